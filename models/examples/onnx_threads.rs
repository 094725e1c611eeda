// SPDX-License-Identifier: MPL-2.0
//! Times the Piper voice's model, the studio's one session with several intra-op threads by
//! default, with its idle threads spinning or sleeping. `bench/onnx_threads.sh` runs it
//! alone, two at once and beside an encode.
//!
//! Usage: `onnx_threads RUNS THREADS spin|sleep`; prints the seconds the runs took.

use std::time::Instant;

use reenact_models::{Catalog, OnnxSession, SessionOptions, TensorInput};

/// A sentence of about 60 phonemes, as the dub speaks them: `^ _ (id _)* $`.
fn phoneme_ids() -> Vec<i64> {
    let mut ids = vec![1, 0];
    for i in 0..60 {
        // Ids 14..=60 are letters of the voice's map; any of them makes speech-like work.
        ids.extend([14 + (i * 7) % 47, 0]);
    }
    ids.push(2);
    ids
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runs, threads, mode] = args.as_slice() else {
        anyhow::bail!("usage: onnx_threads RUNS THREADS spin|sleep");
    };
    let runs: usize = runs.parse()?;
    let options = SessionOptions {
        intra_threads: threads.parse()?,
        allow_gpu: false,
        spin: match mode.as_str() {
            "spin" => true,
            "sleep" => false,
            other => anyhow::bail!("the third argument is `spin` or `sleep`, not `{other}`"),
        },
    };
    let catalog = Catalog::load()?;
    let mut session = OnnxSession::open(&catalog, "piper_en_US_joe_medium", options)?;
    let ids = phoneme_ids();
    let length = [ids.len() as i64];
    let scales = [0.667f32, 1.0, 0.8];
    let inputs = [
        TensorInput::I64 { shape: &[1, ids.len() as i64], data: &ids },
        TensorInput::I64 { shape: &[1], data: &length },
        TensorInput::F32 { shape: &[3], data: &scales },
    ];
    let mut outputs = vec![Vec::new()];
    let start = Instant::now();
    for _ in 0..runs {
        session.run_f32(&inputs, &mut outputs)?;
    }
    println!("{:.3}", start.elapsed().as_secs_f64());
    Ok(())
}
