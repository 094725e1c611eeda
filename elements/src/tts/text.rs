// SPDX-License-Identifier: MPL-2.0
//! Text cut the way Piper speaks it: sentences (one model run each) made of clauses, each
//! clause with the punctuation that closed it, so the phonemes can carry it as piper-tts
//! writes them (`həlˈoʊ, wˈɜːld.`). Pure string work.

/// Clause punctuation the Piper phoneme maps carry, in the order espeak-ng ends clauses on.
const CLAUSE_MARKS: &[char] = &[',', ';', ':'];

/// Punctuation that ends a sentence (`…` counts as `.`).
const SENTENCE_MARKS: &[char] = &['.', '!', '?', '…'];

/// Closing quotes and brackets that may follow a mark before the space.
const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '”', '’', '»'];

/// Words whose trailing `.` does not end a sentence (lowercase, without the dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "gen", "col", "capt", "lt", "sgt", "rev", "gov", "pres",
    "vs", "e.g", "i.e",
];

/// A stretch of text between two punctuation marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// The words, trimmed, without the closing mark.
    pub text: String,
    /// The mark that closed it (`,` `;` `:` `.` `!` `?`), if any.
    pub mark: Option<char>,
}

/// One sentence: what one model run speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// Its clauses, in order; never empty.
    pub clauses: Vec<Clause>,
}

impl Sentence {
    /// The sentence as text again, marks included (what espeak-ng is given).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for clause in &self.clauses {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&clause.text);
            out.extend(clause.mark);
        }
        out
    }
}

/// Cuts `text` into sentences. A sentence ends at `.` `!` `?` `…` followed by a space or the
/// end (not after a title such as `Dr.` or an initial such as `J.`) and at a blank line; a
/// clause ends at `,` `;` `:` followed by a space. A single line break is a space. Runs of
/// marks (`?!`, `...`) count as their first one. Stretches with no words are dropped.
pub fn sentences(text: &str) -> Vec<Sentence> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut clauses = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' && blank_line_follows(&chars, i) {
            close_clause(&mut clauses, &mut current, None);
            close_sentence(&mut out, &mut clauses);
            i += 1;
            continue;
        }
        let is_clause = CLAUSE_MARKS.contains(&c);
        let is_sentence = SENTENCE_MARKS.contains(&c);
        if !(is_clause || is_sentence) {
            current.push(if c.is_whitespace() { ' ' } else { c });
            i += 1;
            continue;
        }
        // The whole run of marks and closers, then it must be followed by space or the end.
        let mut end = i;
        while end < chars.len() && (SENTENCE_MARKS.contains(&chars[end]) || CLAUSE_MARKS.contains(&chars[end])) {
            end += 1;
        }
        while end < chars.len() && CLOSERS.contains(&chars[end]) {
            end += 1;
        }
        let boundary = end == chars.len() || chars[end].is_whitespace();
        if !boundary || (c == '.' && end == i + 1 && is_abbreviation(&current)) {
            current.push(c);
            i += 1;
            continue;
        }
        let mark = if c == '…' { '.' } else { c };
        close_clause(&mut clauses, &mut current, Some(mark));
        if is_sentence {
            close_sentence(&mut out, &mut clauses);
        }
        i = end;
    }
    close_clause(&mut clauses, &mut current, None);
    close_sentence(&mut out, &mut clauses);
    out
}

/// Whether only spaces lie between the line break at `i` and the next one.
fn blank_line_follows(chars: &[char], i: usize) -> bool {
    chars[i + 1..].iter().take_while(|c| c.is_whitespace()).any(|&c| c == '\n')
}

fn is_abbreviation(before: &str) -> bool {
    let word: String = before.chars().rev().take_while(|c| c.is_alphabetic() || *c == '.').collect();
    let word: String = word.chars().rev().collect::<String>().to_lowercase();
    let single_letter = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    single_letter || ABBREVIATIONS.contains(&word.as_str())
}

fn close_clause(clauses: &mut Vec<Clause>, current: &mut String, mark: Option<char>) {
    let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
    current.clear();
    if text.chars().any(char::is_alphanumeric) {
        clauses.push(Clause { text, mark });
    } else if let (Some(last), Some(mark)) = (clauses.last_mut(), mark) {
        // "word , , ." keeps the strongest (last) mark on the clause before.
        if SENTENCE_MARKS.contains(&mark) || last.mark.is_none() {
            last.mark = Some(mark);
        }
    }
}

fn close_sentence(out: &mut Vec<Sentence>, clauses: &mut Vec<Clause>) {
    if !clauses.is_empty() {
        out.push(Sentence { clauses: std::mem::take(clauses) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Vec<Vec<(String, Option<char>)>> {
        sentences(text).into_iter().map(|s| s.clauses.into_iter().map(|c| (c.text, c.mark)).collect()).collect()
    }

    fn c(text: &str, mark: Option<char>) -> (String, Option<char>) {
        (text.to_owned(), mark)
    }

    #[test]
    fn sentences_and_clauses_keep_their_marks() {
        assert_eq!(
            shape("Four score and seven years ago, our fathers; brought forth. Is it? Yes!"),
            vec![
                vec![
                    c("Four score and seven years ago", Some(',')),
                    c("our fathers", Some(';')),
                    c("brought forth", Some('.'))
                ],
                vec![c("Is it", Some('?'))],
                vec![c("Yes", Some('!'))],
            ]
        );
    }

    #[test]
    fn numbers_titles_and_initials_do_not_cut() {
        assert_eq!(
            shape("Dr. Smith paid 3.50 for 1,000 apples at 10:30 with J. F. Kennedy."),
            vec![vec![c("Dr. Smith paid 3.50 for 1,000 apples at 10:30 with J. F. Kennedy", Some('.'))]]
        );
    }

    #[test]
    fn runs_of_marks_quotes_and_line_breaks() {
        assert_eq!(
            shape("He said \"stop!\" Then...\nwait?! no\n\n  New paragraph"),
            vec![
                vec![c("He said \"stop", Some('!'))],
                vec![c("Then", Some('.'))],
                vec![c("wait", Some('?'))],
                vec![c("no", None)],
                vec![c("New paragraph", None)],
            ]
        );
    }

    #[test]
    fn text_without_words_gives_nothing() {
        assert!(sentences("").is_empty());
        assert!(sentences("  \n\n ... , !").is_empty());
        assert_eq!(sentences("Hi , , .")[0].text(), "Hi.");
    }
}
