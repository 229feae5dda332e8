//! Output files checked before the work and written atomically.
//!
//! [`Output::new`] runs before any computation: the extension is one the subcommand writes, the
//! folder exists and a file can be created in it (a probe file is created and removed). The
//! result is written to a temporary file beside the target ([`Output::tmp`]) and renamed over it
//! by [`Output::commit`], so a failed or interrupted run never leaves a half-written file under
//! the name the user asked for; an uncommitted temporary file is removed on drop. Devices and
//! pipes (`/dev/stdout`, `/dev/null`) are written directly.

use std::path::{Path, PathBuf};

use crate::CliError;

/// An output file of a subcommand (see the module docs).
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl Output {
    /// Checks that `path` can be written, with one of the extensions `exts` (lower case, without
    /// the dot). `what` names the argument in messages.
    ///
    /// # Errors
    /// [`CliError::Usage`] for another extension; [`CliError::Input`] for a missing folder, a
    /// folder given as the file, or a folder that cannot be written.
    pub fn new(path: &Path, what: &str, exts: &[&str]) -> Result<Self, CliError> {
        let shown = path.display();
        if path.exists() && !path.is_file() && !path.is_dir() {
            // A device or pipe (/dev/null, /dev/stdout): written directly.
            return Ok(Self {
                path: path.to_path_buf(),
                tmp: path.to_path_buf(),
                committed: true,
            });
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if !exts.contains(&ext.as_str()) {
            let want: Vec<String> = exts.iter().map(|e| format!(".{e}")).collect();
            return Err(CliError::Usage(format!(
                "{what} {shown}: expected a {} file",
                want.join(" or ")
            )));
        }
        if path.is_dir() {
            return Err(CliError::Input(format!(
                "{what} {shown} is a folder; give a file name"
            )));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(CliError::Input(format!(
                "{what} {shown}: folder {} does not exist (create it first)",
                parent.display()
            )));
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.ultrares-{}.tmp.{ext}", std::process::id()));
        std::fs::File::create(&tmp).map_err(|e| {
            CliError::Input(format!(
                "{what} {shown}: cannot write in {} ({e})",
                parent.display()
            ))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Where to write the result (a temporary file beside the target, same extension).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Moves the written temporary file to the target path.
    ///
    /// # Errors
    /// [`CliError::Failure`] if the rename fails.
    pub fn commit(mut self) -> Result<(), CliError> {
        if self.committed {
            return Ok(());
        }
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| CliError::Failure(format!("writing {}: {e}", self.path.display())))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
