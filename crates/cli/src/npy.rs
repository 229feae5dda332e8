//! `.npy`/`.npz` reading with the declared size checked against the data first
//! ([`ultrares::nn::npy::check`]): ndarray-npy allocates what a header declares, so a corrupt
//! file could otherwise abort the process with a 400 GB allocation.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest `.npz` member read: 16 GiB.
const MAX_MEMBER: u64 = 1 << 34;

/// The bytes of a `.npy` file, checked.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    ultrares::nn::npy::check(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// An `.npz` archive whose members are read whole and checked before parsing.
pub struct Npz {
    zip: zip::ZipArchive<File>,
    path: PathBuf,
}

impl Npz {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let zip = zip::ZipArchive::new(file)
            .map_err(|e| format!("{}: not an .npz file ({e})", path.display()))?;
        Ok(Self {
            zip,
            path: path.to_path_buf(),
        })
    }

    /// The member names (with their `.npy` suffix).
    pub fn names(&self) -> Vec<String> {
        self.zip.file_names().map(str::to_string).collect()
    }

    /// The checked bytes of array `key` (`key` or `key.npy`).
    pub fn bytes(&mut self, key: &str) -> Result<Vec<u8>, String> {
        let shown = self.path.display().to_string();
        let name = self
            .names()
            .into_iter()
            .find(|n| n == key || *n == format!("{key}.npy"))
            .ok_or_else(|| format!("{shown}: missing array {key:?}"))?;
        let mut member = self
            .zip
            .by_name(&name)
            .map_err(|e| format!("{shown}: {name}: {e}"))?;
        let mut bytes = Vec::new();
        (&mut member)
            .take(MAX_MEMBER)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{shown}: {name}: {e}"))?;
        ultrares::nn::npy::check(&bytes).map_err(|e| format!("{shown}: {name}: {e}"))?;
        Ok(bytes)
    }
}
