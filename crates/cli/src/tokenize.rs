//! `ultrares tokenize`: the ids a CLIP text encoder receives, as diffusers' `encode_prompt` makes them.

use std::io::Read;
use std::path::{Path, PathBuf};

use ultrares::text::{ClipPad, ClipTokenizer};

/// Arguments of `ultrares tokenize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tokenizer folder: diffusers' `tokenizer/` or `tokenizer_2/` (vocab.json + merges.txt), or
    /// a folder with a tokenizer.json. `clip` and `clip-bigg` name the bundled OpenAI vocabulary
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
    let ids = tokenizer
        .encode_batch(&prompts)
        .map_err(|e| e.to_string())?;
    let max = tokenizer.max_length();
    for (i, p) in prompts.iter().enumerate() {
        let n = tokenizer.token_count(p).map_err(|e| e.to_string())?;
        if n > max {
            eprintln!(
                "warning: prompt {} has {n} tokens; the text encoder sees {max} (bos, the first {}, eos), as diffusers truncates",
                i + 1,
                max - 2
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

fn load(name: &str) -> Result<ClipTokenizer, String> {
    let builtin = match name {
        _ if Path::new(name).exists() => None,
        "clip" => Some(ClipPad::EndOfText),
        "clip-bigg" => Some(ClipPad::Exclamation),
        _ => None,
    };
    match builtin {
        Some(pad) => ClipTokenizer::openai(pad),
        None => ClipTokenizer::from_dir(name),
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
