// SPDX-License-Identifier: MPL-2.0
//! `reenact live`: a live show from a camera, a test pattern or a looping
//! file, previewed in the browser over WebRTC, optionally pushed to RTMP/SRT,
//! recorded, or sent to a virtual camera. Switches are typed on stdin or sent
//! with `PATCH /api/live/{id}` and the per-run token printed at start.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reenact_engine::live::{Elements, LiveDub, LiveElement, LiveOptions, LiveOutput, LiveSource};
use reenact_engine::PresetLibrary;
use reenact_server::http::live::local::{self, LocalAccess};
use reenact_server::http::live::LiveState;
use reenact_server::live::network::LiveNetwork;
use reenact_server::live::{LiveHub, LivePolicy, LiveSession};

use super::network::NetworkArgs;

/// Arguments of `reenact live`.
#[derive(Debug, Args)]
pub(crate) struct LiveArgs {
    /// `test` (moving bars and a tick each second), `camera:/dev/videoN`, or `file:PATH` (played in a loop).
    #[arg(long, default_value = "test")]
    source: String,
    /// A live preset (`reenact presets`).
    #[arg(long, default_value = "live-720p")]
    preset: String,
    /// Character file the show may play (repeat for several; the first is on at start).
    #[arg(long = "character")]
    characters: Vec<PathBuf>,
    /// Elements on at start: a comma-separated list of facetrack, faceswap, voice, matte,
    /// lipsync, captions (default: faceswap and voice when a character is given).
    #[arg(long)]
    elements: Option<String>,
    /// Language of the speech live captions transcribe: a whisper code such as `en`, `de`,
    /// `fr`, or `auto` to detect it (anything but `en` loads the multilingual speech model).
    #[arg(long, default_value = "en")]
    caption_language: String,
    /// Keep what the performer holds in front of their face (a cup, a glove, hair) in front of
    /// the character's face, where its colour is not their skin's.
    #[arg(long)]
    occlusion_mask: bool,
    /// Dub the performer into this language (`en`, `es`, `de`, ...): their speech, in
    /// `--caption-language`, is transcribed, translated (into English by whisper itself; between
    /// other languages by an imported translation model, or else Apertium for English, Spanish
    /// and French), spoken by a voice of that language,
    /// moved to the character's voice when voice is on, and played `--dub-delay` seconds after
    /// it was said, the picture held back as long. Their own sound is not played.
    #[arg(long)]
    dub: Option<String>,
    /// Seconds the dub and the picture play after the performer (6 to 30).
    #[arg(long, default_value_t = reenact_engine::live::dub::DEFAULT_DELAY.as_secs_f64())]
    dub_delay: f64,
    /// Extra outputs (repeatable): rtmp://HOST/APP/KEY, srt://HOST:PORT, record:FILE.mp4, v4l2:/dev/videoN.
    #[arg(long = "output")]
    outputs: Vec<String>,
    /// Camera sound: `default` or an ALSA device such as `hw:1` (silence when absent).
    #[arg(long)]
    mic: Option<String>,
    /// Burn a machine-readable capture clock into each frame (latency measurement);
    /// on by default for the test source.
    #[arg(long)]
    timecode: Option<bool>,
    /// Address of the preview server. Its API takes the token printed at start; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Another name the preview is reached under (repeatable), e.g. `studio.local` or
    /// `studio.local:8090`; requests for any other `Host` are refused (DNS rebinding).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Commercial work: characters whose rights are non-commercial or expired, and elements
    /// whose models are not cleared for commercial use, are refused.
    #[arg(long)]
    commercial: bool,
    /// Stop after this many seconds (default: run until Ctrl-C or `quit`).
    #[arg(long)]
    duration: Option<f64>,
    #[command(flatten)]
    network: NetworkArgs,
}

pub(crate) fn run(args: LiveArgs) -> anyhow::Result<()> {
    let source: LiveSource = args.source.parse()?;
    let presets = Arc::new(PresetLibrary::load()?);
    let preset = presets.get(&args.preset)?.clone();
    let elements = match &args.elements {
        Some(list) => Elements::parse_list(list)?,
        None => Elements {
            faceswap: !args.characters.is_empty(),
            voice: !args.characters.is_empty(),
            ..Elements::default()
        },
    };
    let outputs = args.outputs.iter().map(|o| o.parse::<LiveOutput>()).collect::<Result<Vec<_>, _>>()?;
    check_rights(&args.characters, &elements, &args.caption_language, args.commercial)?;
    let dub = match &args.dub {
        Some(language) => {
            let delay = reenact_engine::live::dub::delay_from_secs(args.dub_delay)
                .map_err(|e| anyhow::anyhow!("--dub-delay {}: {e}", args.dub_delay))?;
            let dub = LiveDub { language: language.clone(), delay };
            reenact_server::http::live::check_dub_models(&args.caption_language, &dub, args.commercial)
                .map_err(|e| anyhow::anyhow!("--dub {language}: {e}"))?;
            Some(dub)
        }
        None => None,
    };
    let network = args.network.live_network()?;
    let mut options = LiveOptions::new(source, preset);
    options.timecode = args.timecode.unwrap_or(options.timecode);
    options.mic = args.mic.clone();
    options.characters = args.characters.clone();
    options.elements = elements;
    options.outputs = outputs;
    options.caption_language = args.caption_language.clone();
    options.occlusion_mask = args.occlusion_mask;
    options.dub = dub;
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: {} is not a loopback address: whoever learns the token can switch or stop the show",
            args.listen
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args, options, presets, network))
}

async fn serve(
    args: LiveArgs,
    options: LiveOptions,
    presets: Arc<PresetLibrary>,
    network: LiveNetwork,
) -> anyhow::Result<()> {
    // A busy port fails before the graph is built.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let is_browser = options.source == LiveSource::Browser;
    let policy = LivePolicy { network: Arc::new(network), ..LivePolicy::default() };
    let hub = Arc::new(LiveHub::new(policy));
    let session = hub.start(options, None, None).await.context("cannot start the live show")?;
    session.commercial.store(args.commercial, std::sync::atomic::Ordering::SeqCst);
    let addr = listener.local_addr()?;
    let access = LocalAccess::new(addr, &args.allow_hosts);
    // The token rides in the fragment, which the browser keeps to itself.
    println!("Live preview: http://{addr}/live/{}#token={}", session.id, access.token());
    if is_browser {
        // The presenter's page: camera and microphone in over WHIP with the same token.
        println!("Publish from: http://{addr}/live/{}/publish#token={}", session.id, access.token());
    }
    println!("WHEP endpoint: http://{addr}/api/live/{}/whep", session.id);
    println!("API token (Authorization: Bearer): {}", access.token());
    println!("Type `character NAME`, `on ELEMENT`, `off ELEMENT`, `stats` or `quit` (Ctrl-C also stops).");
    let state = LiveState { hub: Arc::clone(&hub), presets, keys: None, db: None };
    let app = local::router(state, access).into_make_service_with_connect_info::<SocketAddr>();
    let (quit_tx, mut quit_rx) = tokio::sync::mpsc::channel::<()>(1);
    read_commands(Arc::clone(&session), quit_tx);
    let status = tokio::spawn(print_status(Arc::clone(&session)));
    let duration = args.duration.map(Duration::from_secs_f64);
    let stopped = async move {
        let limit = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = reenact_server::shutdown_signal() => {}
            Some(()) = quit_rx.recv() => {}
            _ = limit => {}
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(stopped).await.context("preview server failed")?;
    status.abort();
    let failure = session.with_runner(|runner| runner.error()).flatten();
    hub.stop_all().await;
    report_signed(&session.signed_recordings());
    match failure {
        Some(err) => anyhow::bail!("the live graph failed: {err}"),
        None => {
            println!("Live show stopped.");
            Ok(())
        }
    }
}

/// Says which recordings carry Content Credentials, and with what kind of certificate.
fn report_signed(signed: &[Result<PathBuf, String>]) {
    for result in signed {
        match result {
            Ok(file) => println!("Signed Content Credentials on {}", file.display()),
            Err(err) => eprintln!("warning: recording not signed: {err}"),
        }
    }
    if signed.iter().any(Result::is_ok) {
        if let Ok((_, Some(note))) = reenact_server::credentials::command_identity() {
            eprintln!("{note}");
        }
    }
}

/// Refuses characters whose rights expired or exclude this work, and in commercial work
/// models not cleared for it, before anything goes on air.
fn check_rights(characters: &[PathBuf], elements: &Elements, language: &str, commercial: bool) -> anyhow::Result<()> {
    let mut cast = std::collections::BTreeMap::new();
    for file in characters {
        let character = gstreenact::character::Character::load(file)
            .map_err(|e| anyhow::anyhow!("--character {}: {e}", file.display()))?;
        cast.insert(character.name, file.clone());
    }
    reenact_server::credentials::check_cast(&cast, commercial).map_err(anyhow::Error::msg)?;
    reenact_server::http::live::check_show_models(&elements.on(), language, commercial)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Reads switches from stdin on a thread of its own (stdin may be closed: then there are none).
fn read_commands(session: Arc<LiveSession>, quit: tokio::sync::mpsc::Sender<()>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let reply = match words.as_slice() {
                [] => continue,
                ["quit" | "exit"] => {
                    let _ = quit.blocking_send(());
                    return;
                }
                ["stats"] => serde_json::to_string_pretty(&session.summary()).unwrap_or_default(),
                ["character", name @ ..] => {
                    let name = name.join(" ");
                    switch(&session, |r| r.set_character(&name)).map_or_else(|e| e, |()| format!("now playing {name}"))
                }
                [verb @ ("on" | "off"), element] => match element.parse::<LiveElement>() {
                    Ok(el) if *verb == "on" && session.commercial.load(std::sync::atomic::Ordering::SeqCst) => {
                        let language = session.with_runner(|r| r.caption_language().to_owned()).unwrap_or_default();
                        match reenact_server::http::live::check_show_models(&[el], &language, true) {
                            Ok(()) => switch(&session, |r| r.set_element(el, true))
                                .map_or_else(|e| e, |()| format!("{element} on")),
                            Err(err) => err.to_string(),
                        }
                    }
                    Ok(el) => switch(&session, |r| r.set_element(el, *verb == "on"))
                        .map_or_else(|e| e, |()| format!("{element} {verb}")),
                    Err(err) => err.to_string(),
                },
                _ => "commands: character NAME | on ELEMENT | off ELEMENT | stats | quit".to_owned(),
            };
            println!("{reply}");
        }
    });
}

fn switch(
    session: &LiveSession,
    f: impl FnOnce(&reenact_engine::live::LiveRunner) -> reenact_engine::Result<()>,
) -> Result<(), String> {
    match session.with_runner(f) {
        Some(Ok(())) => Ok(()),
        Some(Err(err)) => Err(err.to_string()),
        None => Err("the show has stopped".into()),
    }
}

/// A status line every ten seconds on stderr.
async fn print_status(session: Arc<LiveSession>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tick.tick().await;
        let summary = session.summary();
        let Some(stats) = summary.pipeline else { return };
        let latency: Vec<String> = summary
            .viewers
            .iter()
            .filter(|v| v.latency_samples > 0)
            .map(|v| format!("{:.0}", v.latency_p95_ms))
            .collect();
        let dub = stats.dub.as_ref().map_or_else(String::new, |d| {
            format!(", dub {}: {} line(s), {} late, {} failed", d.language, d.lines, d.late, d.failed)
        });
        eprintln!(
            "live: {:.0} fps encoded, {} dropped, {} viewer(s){}{dub}{}",
            stats.fps_encoded,
            stats.frames_dropped,
            summary.viewers.len(),
            if latency.is_empty() { String::new() } else { format!(", p95 glass-to-glass {} ms", latency.join("/")) },
            stats.error.map(|e| format!(", FAILED: {e}")).unwrap_or_default(),
        );
    }
}
