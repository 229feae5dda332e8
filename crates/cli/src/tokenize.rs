//! `ultrares tokenize`: the ids a CLIP or T5 text encoder receives, as diffusers' prompt encoders
//! make them.

use std::io::Read;
use std::path::{Path, PathBuf};

use ultrares::text::{ClipPad, ClipTokenizer, T5Tokenizer};

/// Arguments of `ultrares tokenize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tokenizer folder: diffusers' `tokenizer/` or `tokenizer_2/` (vocab.json + merges.txt), or
    /// a folder with a tokenizer.json; or a T5 folder (SD3's tokenizer_3/, Flux's tokenizer_2/:
    /// tokenizer.json with a unigram model). `clip` and `clip-bigg` name the bundled OpenAI vocabulary
    /// padded like SDXL's `tokenizer/` (with <|endoftext|>) and `tokenizer_2/` (with `!`, which is
    /// then also a special token inside prompts); an existing path of that name wins.
    #[arg(long)]
    tokenizer: String,
    /// Read the prompts from FILE, one per line ("-" for standard input); an empty line is an
    /// empty prompt.
    #[arg(long, conflicts_with = "text")]
    file: Option<PathBuf>,
    /// The prompt (the words are joined with spaces into one prompt, as `echo` joins them).
    text: Vec<String>,
    /// T5 only: ids per prompt, diffusers' max_sequence_length (SD3 256, Flux 512; default the
    /// folder's model_max_length). CLIP rows are always 77.
    #[arg(long)]
    max_length: Option<usize>,
    /// Print `{"ids": [[…], …]}`, one row per prompt, instead of one line of ids per prompt.
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares tokenize`, returning what to print.
pub fn run(args: Args) -> Result<String, String> {
    let tokenizer = load(&args.tokenizer)?;
    let prompts = match &args.file {
        Some(path) => read_prompts(path)?,
        None if args.text.is_empty() => {
            return Err(
                "give a prompt (ultrares tokenize --tokenizer T a photo of a cat) or --file FILE"
                    .into(),
            );
        }
        None => vec![args.text.join(" ")],
    };
    let (ids, max) = match &tokenizer {
        Loaded::Clip(t) => {
            if let Some(n) = args.max_length.filter(|&n| n != t.max_length()) {
                return Err(format!(
                    "--max-length {n}: a CLIP tokenizer's rows are {} ids",
                    t.max_length()
                ));
            }
            (t.encode_batch(&prompts), t.max_length())
        }
        Loaded::T5(t) => {
            let n = args.max_length.unwrap_or(t.model_max_length());
            (t.encode_batch(&prompts, n), n)
        }
    };
    let ids = ids.map_err(|e| format!("--max-length: {e}"))?;
    for (i, p) in prompts.iter().enumerate() {
        let n = match &tokenizer {
            Loaded::Clip(t) => t.token_count(p),
            Loaded::T5(t) => t.token_count(p),
        }
        .map_err(|e| e.to_string())?;
        if n > max {
            eprintln!(
                "warning: prompt {} has {n} tokens; the text encoder sees {max}, as diffusers truncates",
                i + 1
            );
        }
    }
    Ok(if args.json {
        serde_json::json!({ "ids": ids }).to_string()
    } else {
        let lines: Vec<String> = ids
            .iter()
            .map(|row| row.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
            .collect();
        lines.join("\n")
    })
}

enum Loaded {
    Clip(Box<ClipTokenizer>),
    T5(Box<T5Tokenizer>),
}

fn load(name: &str) -> Result<Loaded, String> {
    let builtin = match name {
        _ if Path::new(name).exists() => None,
        "clip" => Some(ClipPad::EndOfText),
        "clip-bigg" => Some(ClipPad::Exclamation),
        _ => None,
    };
    let is_t5 = || {
        std::fs::read_to_string(Path::new(name).join("tokenizer_config.json"))
            .is_ok_and(|c| c.contains("\"T5Tokenizer") || c.contains("\"T5TokenizerFast"))
            || std::fs::read_to_string(Path::new(name).join("tokenizer.json"))
                .is_ok_and(|j| j.contains("\"Unigram\""))
    };
    match builtin {
        Some(pad) => ClipTokenizer::openai(pad).map(|t| Loaded::Clip(Box::new(t))),
        None if is_t5() => T5Tokenizer::from_dir(name).map(|t| Loaded::T5(Box::new(t))),
        None => ClipTokenizer::from_dir(name).map(|t| Loaded::Clip(Box::new(t))),
    }
    .map_err(|e| format!("--tokenizer: {e}"))
}

fn read_prompts(path: &Path) -> Result<Vec<String>, String> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| format!("--file {}: cannot read the prompts ({e})", path.display()))?;
    if text.is_empty() {
        return Err(format!(
            "--file {}: no prompts (the file is empty)",
            path.display()
        ));
    }
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}
