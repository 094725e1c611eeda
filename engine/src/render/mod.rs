// SPDX-License-Identifier: MPL-2.0
//! Offline rendering: a project decoded once, its element chain run once, and
//! one branch per preset teed off the result.

mod branch;
pub(crate) mod cast;
mod effects;
mod outputs;
pub(crate) mod plan;
pub mod preview;
pub(crate) mod run;
mod source;
mod speech;
pub(crate) mod thumbnail;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gst::prelude::*;

pub use cast::SceneUse;
pub use preview::{PreviewRequest, PreviewRunner};
pub use run::{CancelToken, Progress};
pub use speech::{transcribe_timeline, TimelineTranscript};

use crate::dub::{self, DubTrack};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::live::Fanout;
use crate::media;
use crate::metadata::{self, EngineInfo, RenderMetadata, DISCLOSURE};
use crate::preset::{AudioCodec, Background, CaptionMode, Container, CropPolicy, Preset, Watermark};
use crate::priming::AAC_PRIMING_FRAMES;
use crate::project::Project;
use crate::show::{FileOutput, Framing, Output, Show, Source};
use crate::subtitles::{self, Cue};

/// What to render and where.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub project: Project,
    /// The project file (or the bare media file) the project came from; named in errors.
    pub project_file: PathBuf,
    pub presets: Vec<Preset>,
    pub out_dir: PathBuf,
    /// SRT/VTT file to burn in or write as a sidecar.
    pub subtitles: Option<PathBuf>,
    /// Captions from the timeline's speech ([`transcribe_timeline`]), used when no
    /// subtitle file is given.
    pub transcript: Option<TimelineTranscript>,
    /// Overrides each preset's caption mode when subtitles are given.
    pub captions: Option<CaptionMode>,
    /// Overrides each preset's watermark.
    pub watermark: Option<Watermark>,
    /// Replaces or blurs the background of every output.
    pub background: Option<Background>,
    /// Overrides each preset's crop policy.
    pub crop: Option<CropPolicy>,
    /// A render with no progress for this long fails instead of hanging.
    pub stall_timeout: Duration,
}

impl RenderRequest {
    /// A request with defaults for everything optional.
    pub fn new(project: Project, project_file: PathBuf, presets: Vec<Preset>, out_dir: PathBuf) -> Self {
        RenderRequest {
            project,
            project_file,
            presets,
            out_dir,
            subtitles: None,
            transcript: None,
            captions: None,
            watermark: None,
            background: None,
            crop: None,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// One finished output.
#[derive(Debug, Clone)]
pub struct RenderOutput {
    pub preset: String,
    pub file: PathBuf,
    pub metadata_file: PathBuf,
    pub thumbnails: Vec<PathBuf>,
    pub sidecars: Vec<PathBuf>,
    pub metadata: RenderMetadata,
}

/// Everything a render produced.
#[derive(Debug, Clone)]
pub struct RenderReport {
    pub outputs: Vec<RenderOutput>,
    pub duration_s: f64,
    pub wall_s: f64,
}

/// Renders `request`, reporting progress; fails with [`EngineError::Cancelled`]
/// when `cancel` is set. Nothing is left under a final name unless every
/// output succeeded.
pub fn render(
    request: &RenderRequest,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<RenderReport> {
    media::init()?;
    f::require(f::OFFLINE)?;
    if request.presets.is_empty() {
        return Err(EngineError::Request("no preset given: name at least one with --preset".into()));
    }
    let mut names = std::collections::HashSet::new();
    if let Some(dup) = request.presets.iter().find(|p| !names.insert(p.name.as_str())) {
        return Err(EngineError::Request(format!("preset `{}` is given twice", dup.name)));
    }
    let started = std::time::Instant::now();
    let Prepared { cues, plan, mut cast, dub } = prepare(request, cancel)?;
    outputs::prepare_dir(&request.out_dir)?;

    let base = outputs::slug(&request.project.title);
    let mut parts = outputs::PartFiles::default();
    let branches: Vec<FileOutput> = request
        .presets
        .iter()
        .map(|preset| {
            let stem = format!("{base}-{}", outputs::slug(&preset.name));
            let file = request.out_dir.join(format!("{stem}.{}", preset.container.extension()));
            FileOutput { framing: framing(request, cues.as_ref(), preset), part: parts.reserve(file), stem }
        })
        .collect();

    let position = run::Position::default();
    let show = Show::new(Source::Timeline(plan.clone()), branches.iter().cloned().map(Output::File).collect());
    let mut effects = effects::Effects::resolve(&plan, request.background.as_ref(), &show)?;
    let mut chains = Chains { cast: &mut cast, effects: &mut effects, dub: &dub };
    let Graph { pipeline, captures, .. } =
        build("reenact-render", show, request, cues.as_ref(), &position, &mut chains)?;
    let watch = run::Watch {
        duration_s: plan.duration_s,
        position: position.clone(),
        cancel,
        stall_after: request.stall_timeout,
    };
    run::run(&pipeline, watch, on_progress)?;
    drop(pipeline);
    // Read once the elements have run: they name the models and versions they opened.
    let scenes = cast.scene_uses(&request.project, &dub);
    let mut models = cast.models(&scenes);
    for model in effects.models().into_iter().chain(dub.models.iter().cloned()) {
        if !models.contains(&model) {
            models.push(model);
        }
    }
    if let (None, Some(transcript)) = (&request.subtitles, &request.transcript) {
        models.extend(transcript.models.iter().cloned());
    }

    let rendered = position.seconds();
    if rendered + 1.5 * plan.frame_s() < plan.duration_s {
        let cause =
            format!("decoding stopped at {rendered:.2} s of {:.2} s: truncated or damaged media", plan.duration_s);
        return Err(match &plan.direct {
            Some(info) => EngineError::BadMedia { path: info.path.clone(), cause },
            None => EngineError::Request(cause),
        });
    }

    for branch in &branches {
        let preset = &branch.framing.preset;
        if preset.container == Container::Mp4 && preset.audio.codec == AudioCodec::Aac {
            crate::priming::skip_audio_priming(&branch.part, AAC_PRIMING_FRAMES, preset.audio.sample_rate)?;
        }
    }

    let mut outputs = Vec::with_capacity(branches.len());
    for (branch, capture) in branches.iter().zip(&captures) {
        let made = Made { scenes: &scenes, models: &models };
        outputs.push(finish(request, &plan, branch, capture, cues.as_deref(), &made, &mut parts)?);
    }
    parts.commit()?;
    Ok(RenderReport { outputs, duration_s: plan.duration_s, wall_s: started.elapsed().as_secs_f64() })
}

/// What a render and its preview resolve before building anything.
struct Prepared {
    cues: Option<Arc<Vec<Cue>>>,
    plan: Arc<plan::Plan>,
    cast: cast::Cast,
    /// The dubbed scenes' speech.
    dub: Arc<DubTrack>,
}

/// Checks `request`'s overrides, reads its captions, resolves the timeline and the cast, and
/// speaks the dubbed scenes' lines.
fn prepare(request: &RenderRequest, cancel: &CancelToken) -> Result<Prepared> {
    let cues = match (&request.subtitles, &request.transcript) {
        (Some(path), _) => Some(Arc::new(subtitles::read(path)?)),
        (None, Some(transcript)) => Some(Arc::new(transcript.cues.clone())),
        (None, None) => None,
    };
    if let Some(w) = &request.watermark {
        w.validate(Path::new("--watermark"))?;
    }
    if let Some(b) = &request.background {
        b.validate().map_err(|cause| EngineError::Request(format!("background: {cause}")))?;
    }
    let plan = Arc::new(plan::Plan::resolve(&request.project, &request.project_file)?);
    let cast = cast::Cast::resolve(&request.project, &request.project_file)?;
    let pitch_of = |name: &str| cast.pitch_hz(name);
    let dub = Arc::new(dub::prepare(&request.project, &request.project_file, &pitch_of, cancel)?);
    Ok(Prepared { cues, plan, cast, dub })
}

/// How `preset` frames the picture with the request's overrides: its crop, caption mode and
/// watermark.
fn framing(request: &RenderRequest, cues: Option<&Arc<Vec<Cue>>>, preset: &Preset) -> Framing {
    let captions = match (cues, request.captions) {
        (None, _) => CaptionMode::Off,
        (Some(_), Some(mode)) => mode,
        (Some(_), None) if preset.captions == CaptionMode::Off => CaptionMode::BurnIn,
        (Some(_), None) => preset.captions,
    };
    let watermark = request.watermark.clone().or_else(|| preset.watermark.clone());
    let mut preset = preset.clone();
    preset.crop = request.crop.unwrap_or(preset.crop);
    Framing { preset, captions, watermark }
}

/// A JPEG of the frame at `time_s` of `path` (at most 640 pixels wide, the picture's aspect),
/// for previews of media that is not a render's output.
pub fn thumbnail(path: &Path, time_s: f64) -> Result<Vec<u8>> {
    media::init()?;
    let info = media::probe(path)?;
    let (w, h) = match &info.video {
        Some(v) => (v.width, v.height),
        None => return Err(EngineError::BadMedia { path: path.to_path_buf(), cause: "no video stream".into() }),
    };
    // `max` also turns an unknown (NaN) duration into 0: the first frame.
    let latest = (info.duration_s / 2.0).max(0.0);
    thumbnail::jpeg_at(path, time_s.max(0.0).min(latest), w, h)
}

/// What the shared chain ran, for every output's metadata.
struct Made<'a> {
    scenes: &'a [SceneUse],
    models: &'a [reenact_models::ModelUse],
}

/// The element chains every output shares: the cast's, then the effects', and the speech
/// the dubbed scenes play in place of their own.
struct Chains<'a> {
    cast: &'a mut cast::Cast,
    effects: &'a mut effects::Effects,
    dub: &'a Arc<DubTrack>,
}

/// The graph every output shares: the pipeline, the show's chains and the
/// tees the outputs start from, with the pads the source feeds.
struct Shared {
    pipeline: gst::Pipeline,
    tees: branch::Tees,
    video_in: gst::Pad,
    audio_in: gst::Pad,
}

/// Builds what every output shares, from the source's pads to the tees, and
/// describes the chains that run there into `show`.
fn build_shared(name: &str, show: &mut Show, chains: &mut Chains<'_>) -> Result<Shared> {
    let pipeline = gst::Pipeline::with_name(name);
    let err = |what: &str| EngineError::Request(format!("cannot build the render graph: {what}"));

    // Video: the cast's chain when scenes have characters, one conversion to
    // the encoders' format, then the tee all presets share; audio likewise.
    let vconvert = make(f::VIDEOCONVERT)?;
    let vformat = make(f::CAPSFILTER)?;
    vformat.set_property("caps", gst::Caps::builder("video/x-raw").field("format", "I420").build());
    let vtee = make(f::TEE)?;
    let aconvert = make(f::AUDIOCONVERT)?;
    let aresample = make(f::AUDIORESAMPLE)?;
    let aformat = make(f::CAPSFILTER)?;
    let mut audio_caps =
        gst::Caps::builder("audio/x-raw").field("rate", source::AUDIO_RATE).field("channels", source::AUDIO_CHANNELS);
    if !chains.dub.is_empty() {
        audio_caps = audio_caps.field("format", "F32LE").field("layout", "interleaved");
    }
    aformat.set_property("caps", audio_caps.build());
    let atee = make(f::TEE)?;
    pipeline
        .add_many([&vconvert, &vformat, &vtee, &aconvert, &aresample, &aformat, &atee])
        .map_err(|_| err("shared elements"))?;
    gst::Element::link_many([&vconvert, &vformat]).map_err(|_| err("video chain"))?;
    gst::Element::link_many([&aconvert, &aresample, &aformat]).map_err(|_| err("audio chain"))?;
    if !chains.dub.is_empty() {
        play_dub(&aformat.static_pad("src").expect("capsfilter src"), chains.dub.clone());
    }
    // One chain for the characters and the effects, from one description:
    // one face tracker whatever reads its faces (swaps, lip-sync, crops).
    chains.cast.describe(show);
    chains.effects.describe(show);
    let mut tail = vformat;
    if let Some(chain) = chains.cast.add_video(&pipeline, show)? {
        tail.link(&chain.first).map_err(|_| err("show chain input"))?;
        tail = chain.last;
        chains.effects.ran(&chain.built);
    }
    tail.link(&vtee).map_err(|_| err("video chain"))?;
    match chains.cast.add_audio(&pipeline, show)? {
        None => aformat.link(&atee).map_err(|_| err("audio chain"))?,
        Some((first, last)) => {
            aformat.link(&first).map_err(|_| err("voice chain input"))?;
            last.link(&atee).map_err(|_| err("voice chain output"))?;
        }
    }
    Ok(Shared {
        pipeline,
        tees: branch::Tees::new(vtee, atee),
        video_in: vconvert.static_pad("sink").expect("videoconvert sink"),
        audio_in: aconvert.static_pad("sink").expect("audioconvert sink"),
    })
}

/// Replaces the sound leaving `pad` (F32LE at the render's rate and channels) with the dub
/// inside the dubbed scenes, before the voices: the characters' voices and lips take it as
/// they would the performer's.
fn play_dub(pad: &gst::Pad, dub: Arc<DubTrack>) {
    debug_assert_eq!(source::AUDIO_RATE as u32, dub::RATE);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        // Timeline time, not running time: after a preview's seek the running time starts at 0.
        let Some((t, bytes)) = info.buffer().and_then(|b| Some((branch::timeline_time(pad, b)?, b.size()))) else {
            return gst::PadProbeReturn::Ok;
        };
        let first = (t * f64::from(dub::RATE)).round() as u64;
        // Sound outside the dubbed scenes goes on untouched, without a copy.
        let frames = (bytes / (4 * source::AUDIO_CHANNELS as usize)) as u64;
        if !dub.reaches(first, frames) {
            return gst::PadProbeReturn::Ok;
        }
        let Some(buffer) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
        let Ok(mut map) = buffer.make_mut().map_writable() else { return gst::PadProbeReturn::Ok };
        let bytes = map.as_mut_slice();
        let mut samples: Vec<f32> =
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        dub.fill(first, &mut samples, source::AUDIO_CHANNELS as usize);
        for (out, v) in bytes.chunks_exact_mut(4).zip(&samples) {
            out.copy_from_slice(&v.to_le_bytes());
        }
        gst::PadProbeReturn::Ok
    });
}

/// A render's or a preview's graph: the thumbnail frames each file output
/// captures, in the order of the show's file outputs, and the preview's encodes.
struct Graph {
    pipeline: gst::Pipeline,
    captures: Vec<thumbnail::Capture>,
    preview: Option<Fanout>,
}

/// The offline builder: `show`'s timeline through the shared chains to each of its outputs.
fn build(
    name: &str,
    mut show: Show,
    request: &RenderRequest,
    cues: Option<&Arc<Vec<Cue>>>,
    position: &run::Position,
    chains: &mut Chains<'_>,
) -> Result<Graph> {
    let timeline = show.source.timeline()?.clone();
    let mut shared = build_shared(name, &mut show, chains)?;
    tracing::info!(%show, "offline graph");
    let pipeline = shared.pipeline.clone();
    let vtee_sink = shared.tees.video.static_pad("sink").expect("tee sink");
    let position = position.clone();
    vtee_sink.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(buffer) = info.buffer() {
            if let Some(t) = branch::running_time(pad, buffer) {
                let dur = buffer.duration().map(|d| d.nseconds() as f64 / 1e9).unwrap_or(0.0);
                position.record(t + dur);
            }
        }
        gst::PadProbeReturn::Ok
    });

    let tags = branch::Tags {
        title: request.project.title.clone(),
        author: request.project.author.clone(),
        comment: DISCLOSURE.into(),
        encoder: format!("Reenact Studio {}", metadata::ENGINE_VERSION),
    };
    let files = show.outputs.iter().filter(|o| matches!(o, Output::File(_))).count();
    let encoder_threads = branch::encoder_threads(files);
    let mut graph = Graph { pipeline: pipeline.clone(), captures: Vec::with_capacity(files), preview: None };
    for output in &show.outputs {
        match output {
            Output::File(file) => {
                let spec = branch::Spec {
                    preset: &file.framing.preset,
                    face_crop: effects::face_crop(&timeline, &file.framing.preset)?,
                    overlays: overlays(&file.framing, cues),
                    tags: &tags,
                    part: &file.part,
                    thumbnail_times: file
                        .framing
                        .preset
                        .thumbnails
                        .iter()
                        .map(|t| timeline.thumbnail_time(*t))
                        .collect(),
                    encoder_threads,
                };
                graph.captures.push(branch::add(&pipeline, &mut shared.tees, &timeline, &spec)?);
            }
            Output::Preview { encoder, framing: Some(framing) } => {
                let overlays = overlays(framing, cues);
                graph.preview =
                    Some(preview::add_encodes(&pipeline, &shared.tees, &timeline, encoder, framing, &overlays)?);
            }
            Output::Preview { framing: None, .. } => {
                return Err(EngineError::Request("a project's preview is framed by one of its presets".into()))
            }
            Output::Live(_) => {
                return Err(EngineError::Request(format!(
                    "a render writes files; `{output}` is a live destination: start a live show for it"
                )))
            }
        }
    }
    source::add(&pipeline, &timeline, &shared.video_in, &shared.audio_in)?;
    Ok(graph)
}

/// What `framing` draws over the picture: the cues when it burns them in, its watermark.
fn overlays(framing: &Framing, cues: Option<&Arc<Vec<Cue>>>) -> branch::Overlays {
    branch::Overlays {
        captions: (framing.captions == CaptionMode::BurnIn).then(|| cues.cloned()).flatten(),
        watermark: framing.watermark.clone(),
    }
}

/// Probes a finished `.part`, writes its thumbnails, sidecars and metadata.
fn finish(
    request: &RenderRequest,
    plan: &plan::Plan,
    branch: &FileOutput,
    capture: &thumbnail::Capture,
    cues: Option<&Vec<Cue>>,
    made: &Made<'_>,
    parts: &mut outputs::PartFiles,
) -> Result<RenderOutput> {
    let info = media::probe(&branch.part)?;
    let (w, h) = info.video.as_ref().map(|v| (v.width, v.height)).unwrap_or((0, 0));
    let file = request.out_dir.join(format!("{}.{}", branch.stem, branch.framing.preset.container.extension()));
    let mut thumbnails = Vec::new();
    for (i, t) in branch.framing.preset.thumbnails.iter().enumerate() {
        let jpeg = match capture.jpeg(i, w, h) {
            Some(jpeg) => jpeg,
            None => {
                tracing::debug!(preset = %branch.framing.preset.name, t, "thumbnail frame not captured; decoding the output");
                thumbnail::jpeg_at(&branch.part, plan.thumbnail_time(*t), w, h)?
            }
        };
        let path = request.out_dir.join(format!("{}-thumb{}.jpg", branch.stem, i + 1));
        parts.write(path.clone(), &jpeg)?;
        thumbnails.push(path);
    }
    let mut sidecars = Vec::new();
    if let (Some(cues), CaptionMode::Sidecar) = (cues, branch.framing.captions) {
        for (format, ext) in [(subtitles::Format::Srt, "srt"), (subtitles::Format::Vtt, "vtt")] {
            let path = request.out_dir.join(format!("{}.{ext}", branch.stem));
            parts.write(path.clone(), subtitles::write(cues, format).as_bytes())?;
            sidecars.push(path);
        }
    }
    let bytes = std::fs::metadata(&branch.part).map_err(|e| EngineError::io(&branch.part, e))?.len();
    let name_of = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut output = info.clone();
    output.path = file.clone();
    let metadata = RenderMetadata {
        file: name_of(&file),
        preset: branch.framing.preset.clone(),
        title: request.project.title.clone(),
        author: request.project.author.clone(),
        duration_s: info.duration_s,
        bytes,
        output,
        sources: plan.sources.iter().map(|s| s.path.clone()).collect(),
        thumbnails: thumbnails.iter().map(name_of).collect(),
        captions: match branch.framing.captions {
            CaptionMode::Off => None,
            CaptionMode::BurnIn => Some("burn-in".into()),
            CaptionMode::Sidecar => Some("sidecar".into()),
        },
        watermark: branch.framing.watermark.clone(),
        models: made.models.to_vec(),
        licences: metadata::licences(made.models),
        scenes: made.scenes.to_vec(),
        engine: EngineInfo::current(),
        disclosure: DISCLOSURE.into(),
        created_at: metadata::now_rfc3339(),
    };
    let metadata_file = request.out_dir.join(format!("{}.json", branch.stem));
    let json = serde_json::to_vec_pretty(&metadata).expect("metadata serialises");
    parts.write(metadata_file.clone(), &json)?;
    Ok(RenderOutput { preset: branch.framing.preset.name.clone(), file, metadata_file, thumbnails, sidecars, metadata })
}

/// What a render will run, as far as it is known before the render: whether a cast plays,
/// a preset crops around the face, a background replaces the room, captions are transcribed.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlannedRender {
    pub cast: bool,
    pub face_crop: bool,
    pub background: bool,
    pub captions: bool,
}

/// Catalog names of the models a render with `plan` runs, read from the elements' defaults
/// as the render builds them, so that commercial work can be refused before it is queued.
/// A face crop on a picture that turns out to fit needs no tracker; counting it anyway
/// errs towards checking. The characters' own models are theirs
/// (`Character::own_models`) and are checked with their rights.
pub fn planned_models(plan: PlannedRender) -> Result<Vec<&'static str>> {
    let mut names = Vec::new();
    if plan.cast || plan.face_crop {
        names.extend(effects::TRACK_MODELS);
    }
    if plan.background {
        crate::media::init()?;
        let matte = f::plugin(f::REENACTMATTE)?;
        names.push(matte.property::<gstreenact::matte::ReenactMatteModel>("model").model_name());
    }
    if plan.captions {
        names.extend(crate::live::captions::MODELS);
    }
    Ok(names)
}
