// SPDX-License-Identifier: MPL-2.0
//! Language codes: the ones whisper can hear, and BCP 47 tags for subtitle tracks.
//!
//! A subtitle track is named by a BCP 47 tag (`es`, `pt-BR`, `zh-Hant`); its primary subtag
//! must be a language this studio knows (the whisper set, ISO 639-1), so a typo such as `sp`
//! is refused instead of becoming a track no player can label.

/// The languages whisper (multilingual models) transcribes, by ISO 639-1 code (`haw` and `yue`
/// have none shorter), with their English names, in whisper's own order.
pub const WHISPER_LANGUAGES: [(&str, &str); 100] = [
    ("en", "English"),
    ("zh", "Chinese"),
    ("de", "German"),
    ("es", "Spanish"),
    ("ru", "Russian"),
    ("ko", "Korean"),
    ("fr", "French"),
    ("ja", "Japanese"),
    ("pt", "Portuguese"),
    ("tr", "Turkish"),
    ("pl", "Polish"),
    ("ca", "Catalan"),
    ("nl", "Dutch"),
    ("ar", "Arabic"),
    ("sv", "Swedish"),
    ("it", "Italian"),
    ("id", "Indonesian"),
    ("hi", "Hindi"),
    ("fi", "Finnish"),
    ("vi", "Vietnamese"),
    ("he", "Hebrew"),
    ("uk", "Ukrainian"),
    ("el", "Greek"),
    ("ms", "Malay"),
    ("cs", "Czech"),
    ("ro", "Romanian"),
    ("da", "Danish"),
    ("hu", "Hungarian"),
    ("ta", "Tamil"),
    ("no", "Norwegian"),
    ("th", "Thai"),
    ("ur", "Urdu"),
    ("hr", "Croatian"),
    ("bg", "Bulgarian"),
    ("lt", "Lithuanian"),
    ("la", "Latin"),
    ("mi", "Maori"),
    ("ml", "Malayalam"),
    ("cy", "Welsh"),
    ("sk", "Slovak"),
    ("te", "Telugu"),
    ("fa", "Persian"),
    ("lv", "Latvian"),
    ("bn", "Bengali"),
    ("sr", "Serbian"),
    ("az", "Azerbaijani"),
    ("sl", "Slovenian"),
    ("kn", "Kannada"),
    ("et", "Estonian"),
    ("mk", "Macedonian"),
    ("br", "Breton"),
    ("eu", "Basque"),
    ("is", "Icelandic"),
    ("hy", "Armenian"),
    ("ne", "Nepali"),
    ("mn", "Mongolian"),
    ("bs", "Bosnian"),
    ("kk", "Kazakh"),
    ("sq", "Albanian"),
    ("sw", "Swahili"),
    ("gl", "Galician"),
    ("mr", "Marathi"),
    ("pa", "Punjabi"),
    ("si", "Sinhala"),
    ("km", "Khmer"),
    ("sn", "Shona"),
    ("yo", "Yoruba"),
    ("so", "Somali"),
    ("af", "Afrikaans"),
    ("oc", "Occitan"),
    ("ka", "Georgian"),
    ("be", "Belarusian"),
    ("tg", "Tajik"),
    ("sd", "Sindhi"),
    ("gu", "Gujarati"),
    ("am", "Amharic"),
    ("yi", "Yiddish"),
    ("lo", "Lao"),
    ("uz", "Uzbek"),
    ("fo", "Faroese"),
    ("ht", "Haitian Creole"),
    ("ps", "Pashto"),
    ("tk", "Turkmen"),
    ("nn", "Nynorsk"),
    ("mt", "Maltese"),
    ("sa", "Sanskrit"),
    ("lb", "Luxembourgish"),
    ("my", "Myanmar"),
    ("bo", "Tibetan"),
    ("tl", "Tagalog"),
    ("mg", "Malagasy"),
    ("as", "Assamese"),
    ("tt", "Tatar"),
    ("haw", "Hawaiian"),
    ("ln", "Lingala"),
    ("ha", "Hausa"),
    ("ba", "Bashkir"),
    ("jw", "Javanese"),
    ("su", "Sundanese"),
    ("yue", "Cantonese"),
];

/// Why a language code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    /// Not a code whisper knows.
    #[error("`{0}` is not a speech language (auto, or a whisper code: en, es, de, fr, ...)")]
    UnknownSpeech(String),
    /// Not a BCP 47 tag with a known primary language.
    #[error("`{tag}` is not a BCP 47 language tag this studio knows ({cause})")]
    UnknownTag { tag: String, cause: &'static str },
}

/// Checks a speech language for whisper: `auto` or one of [`WHISPER_LANGUAGES`].
pub fn check_speech_language(code: &str) -> Result<(), LanguageError> {
    if code == "auto" || WHISPER_LANGUAGES.iter().any(|(c, _)| *c == code) {
        Ok(())
    } else {
        Err(LanguageError::UnknownSpeech(code.chars().take(16).collect()))
    }
}

/// The English name of a primary language subtag.
pub fn language_name(code: &str) -> Option<&'static str> {
    let primary = code.split('-').next()?.to_ascii_lowercase();
    WHISPER_LANGUAGES.iter().find(|(c, _)| *c == primary).map(|(_, name)| *name)
}

/// Checks a BCP 47 tag (`language[-Script][-REGION]`) and returns it in canonical case
/// (`pt-br` -> `pt-BR`, `zh-hant` -> `zh-Hant`). The primary subtag must be a known language.
pub fn canonical_tag(tag: &str) -> Result<String, LanguageError> {
    let refuse = |cause| LanguageError::UnknownTag { tag: tag.chars().take(35).collect(), cause };
    if tag.is_empty() || tag.len() > 35 {
        return Err(refuse("empty or longer than 35 characters"));
    }
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default().to_ascii_lowercase();
    if !WHISPER_LANGUAGES.iter().any(|(c, _)| *c == primary) {
        return Err(refuse("unknown primary language subtag"));
    }
    let mut out = primary;
    let mut seen_script = false;
    let mut seen_region = false;
    for part in parts {
        let alpha = part.bytes().all(|b| b.is_ascii_alphabetic());
        let digits = part.bytes().all(|b| b.is_ascii_digit());
        out.push('-');
        if part.len() == 4 && alpha && !seen_script && !seen_region {
            seen_script = true;
            let lower = part.to_ascii_lowercase();
            out.push_str(&lower[..1].to_ascii_uppercase());
            out.push_str(&lower[1..]);
        } else if ((part.len() == 2 && alpha) || (part.len() == 3 && digits)) && !seen_region {
            seen_region = true;
            out.push_str(&part.to_ascii_uppercase());
        } else {
            return Err(refuse("only language, script (4 letters) and region (2 letters or 3 digits) subtags"));
        }
    }
    Ok(out)
}

/// The primary language of a tag (`pt-BR` -> `pt`), for picking models.
pub fn primary(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

/// The ISO 639-2/B code players read from MP4 and Matroska language fields (`es` -> `spa`);
/// `und` when there is none here.
pub fn iso639_2(tag: &str) -> &'static str {
    const CODES: [(&str, &str); 24] = [
        ("en", "eng"),
        ("es", "spa"),
        ("de", "ger"),
        ("fr", "fre"),
        ("it", "ita"),
        ("pt", "por"),
        ("nl", "dut"),
        ("ru", "rus"),
        ("uk", "ukr"),
        ("pl", "pol"),
        ("el", "gre"),
        ("ar", "ara"),
        ("he", "heb"),
        ("zh", "chi"),
        ("ja", "jpn"),
        ("ko", "kor"),
        ("tr", "tur"),
        ("sv", "swe"),
        ("da", "dan"),
        ("no", "nor"),
        ("fi", "fin"),
        ("cs", "cze"),
        ("hi", "hin"),
        ("ca", "cat"),
    ];
    let primary = primary(tag).to_ascii_lowercase();
    CODES.iter().find(|(c, _)| *c == primary).map_or("und", |(_, c)| c)
}

/// The ISO 639-2/T code MP4 media headers carry (`de` -> `deu`; the B code where they agree).
pub fn iso639_2t(tag: &str) -> &'static str {
    match iso639_2(tag) {
        "ger" => "deu",
        "fre" => "fra",
        "dut" => "nld",
        "gre" => "ell",
        "chi" => "zho",
        "cze" => "ces",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_languages() {
        for code in ["auto", "en", "es", "de", "fr", "yue"] {
            assert_eq!(check_speech_language(code), Ok(()), "{code}");
        }
        for code in ["", "xx", "EN", "es-ES", "english"] {
            assert!(check_speech_language(code).is_err(), "{code}");
        }
    }

    #[test]
    fn tags_are_checked_and_canonical() {
        assert_eq!(canonical_tag("es").unwrap(), "es");
        assert_eq!(canonical_tag("pt-br").unwrap(), "pt-BR");
        assert_eq!(canonical_tag("zh-hant-tw").unwrap(), "zh-Hant-TW");
        assert_eq!(canonical_tag("es-419").unwrap(), "es-419");
        for bad in ["", "sp", "es_ES", "es-", "es-ES-ES", "en-toolongsubtag", "x-private", "es-ES-Latn"] {
            assert!(canonical_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(iso639_2("de-AT"), "ger");
        assert_eq!(iso639_2("sw"), "und");
        assert_eq!((iso639_2t("de"), iso639_2t("es"), iso639_2t("fr")), ("deu", "spa", "fra"));
        assert_eq!(language_name("fr-CA"), Some("French"));
    }
}
