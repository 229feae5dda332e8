//! Where `ultrares generate` reads a pipeline: a diffusers folder (`--model DIR`), or an original
//! single-file checkpoint plus a diffusers folder for its configs, tokenizers, scheduler and the
//! components the file lacks (`--model FILE --config DIR`, as diffusers'
//! `from_single_file(file, config=dir)`).
//!
//! A component comes from the file when the file holds it: the UNet (`model.diffusion_model.`),
//! the SD3/Flux transformer (`model.diffusion_model.` or BFL's bare `double_blocks.`), the VAE
//! (`first_stage_model.`), the text towers (see `ultrares_text::single_file_text_encoder`).
//! Otherwise its weights are the folder's, as for `--model DIR`.

use std::path::{Path, PathBuf};

use ultrares::dit::SINGLE_FILE_PREFIX;
use ultrares::nn::StateDict;
use ultrares::nn::weights::model_weight_file;
use ultrares::text::{PipelineSource, has_single_file_text_encoder};

use crate::CliError;

/// The pipeline `generate` runs, opened from `--model` (and `--config`).
pub(crate) struct ModelSource {
    /// The diffusers folder: `--model DIR`, or `--config DIR` with a single file.
    pub(crate) dir: PathBuf,
    /// `--model FILE`'s path and tensors (read lazily).
    pub(crate) file: Option<(PathBuf, StateDict)>,
    variant: Option<String>,
}

impl ModelSource {
    /// Opens `--model` (a folder, or a single file that needs `--config`).
    ///
    /// # Errors
    /// [`CliError::Usage`] for a single file without `--config` or a folder with one;
    /// [`CliError::Input`] for an unreadable file.
    pub(crate) fn open(
        model: &Path,
        config: Option<&Path>,
        variant: Option<&str>,
    ) -> Result<Self, CliError> {
        let variant = variant.map(str::to_string);
        if model.is_dir() {
            if config.is_some() {
                return Err(CliError::Usage(format!(
                    "--config is for a single-file --model; {} is a folder",
                    model.display()
                )));
            }
            return Ok(Self {
                dir: model.to_path_buf(),
                file: None,
                variant,
            });
        }
        let Some(dir) = config else {
            return Err(CliError::Usage(format!(
                "--model {} is a single file: give --config DIR, a diffusers pipeline folder with \
                 its configs and tokenizers (e.g. stabilityai/stable-diffusion-xl-base-1.0 \
                 without weights), as diffusers' from_single_file(config=…)",
                model.display()
            )));
        };
        let sd = StateDict::read(model)
            .map_err(|e| CliError::Input(format!("--model {}: {e}", model.display())))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            file: Some((model.to_path_buf(), sd)),
            variant,
        })
    }

    /// `--model …` for messages.
    pub(crate) fn label(&self) -> String {
        match &self.file {
            Some((path, _)) => format!("--model {}", path.display()),
            None => format!("--model {}", self.dir.display()),
        }
    }

    /// The single file's tensors, if `--model` is one.
    pub(crate) fn single_file(&self) -> Option<&StateDict> {
        self.file.as_ref().map(|(_, sd)| sd)
    }

    /// The weight variant (`--variant`).
    pub(crate) fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The text towers' source.
    pub(crate) fn text(&self) -> PipelineSource<'_> {
        PipelineSource {
            dir: &self.dir,
            variant: self.variant(),
            single_file: self.single_file(),
        }
    }

    /// Whether the single file holds pipeline component `name` (`unet`, `transformer`, `vae`,
    /// `text_encoder[_2,_3]`).
    pub(crate) fn in_file(&self, name: &str) -> bool {
        let Some(sd) = self.single_file() else {
            return false;
        };
        let any = |prefixes: &[&str]| sd.keys().any(|k| prefixes.iter().any(|p| k.starts_with(p)));
        match name {
            "unet" => any(&["model.diffusion_model.input_blocks."]),
            "transformer" => {
                let joint = format!("{SINGLE_FILE_PREFIX}joint_blocks.");
                let double = format!("{SINGLE_FILE_PREFIX}double_blocks.");
                any(&[&joint, &double, "double_blocks."])
            }
            "vae" => any(&["first_stage_model."]),
            _ => has_single_file_text_encoder(sd, name),
        }
    }

    /// Every one of `names` whose weights are neither in the single file nor in the folder, in
    /// one error.
    ///
    /// # Errors
    /// [`CliError::Input`] naming each missing component and where it was looked for.
    pub(crate) fn check_weights(&self, names: &[&str]) -> Result<(), CliError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| {
                !self.in_file(n) && model_weight_file(&self.dir.join(n), self.variant()).is_none()
            })
            .map(|n| format!("{n}/ weights"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let variant = self
            .variant()
            .map(|v| format!(" (variant {v})"))
            .unwrap_or_default();
        Err(CliError::Input(match &self.file {
            Some((path, _)) => format!(
                "--model {}: missing {} (in neither the file nor --config {}{variant})",
                path.display(),
                missing.join(", "),
                self.dir.display()
            ),
            None => format!(
                "--model {}: missing {}{variant}",
                self.dir.display(),
                missing.join(", ")
            ),
        }))
    }
}
