//! Diffusion-4K's Compression Ratio (`eval.py`, spec `wavelet.md` §4.2).

use std::path::Path;

use ultrares_core::image::RgbImage;

use crate::jpeg::{JpegConfig, encode_jpeg};
use crate::{Error, Result};

/// Streaming Compression Ratio: `Σ raw RGB bytes / Σ JPEG bytes` over a set of images.
///
/// Diffusion-4K (`eval.py`) divides `size·size·3 · N` by the summed on-disk sizes of its
/// `quality=95` JPEGs; [`add_image`](Self::add_image) encodes the pixels with the
/// libjpeg-turbo-exact [`encode_jpeg`] instead (so PNG outputs can be scored),
/// [`add_file`](Self::add_file) takes the file's own size as `eval.py` does. Lower means more
/// detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompressionRatio {
    /// Summed `width · height · 3`.
    pub raw_bytes: u64,
    /// Summed JPEG sizes in bytes.
    pub jpeg_bytes: u64,
    /// Images added.
    pub count: usize,
}

impl CompressionRatio {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `img` with `config` and adds it; returns its JPEG size in bytes.
    pub fn add_image(&mut self, img: &RgbImage, config: &JpegConfig) -> Result<usize> {
        let n = encode_jpeg(img, config)?.len();
        self.add_sizes(img.width() as u64 * img.height() as u64 * 3, n as u64);
        Ok(n)
    }

    /// Adds an already encoded file as `eval.py` does: raw size from its header's dimensions,
    /// compressed size = the file's size on disk.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let (w, h) = image::image_dimensions(path)
            .map_err(|e| Error::Image(format!("{}: {e}", path.display())))?;
        let len = std::fs::metadata(path)
            .map_err(|e| Error::Image(format!("{}: {e}", path.display())))?
            .len();
        self.add_sizes(u64::from(w) * u64::from(h) * 3, len);
        Ok(len)
    }

    /// Adds one image's raw and compressed sizes.
    pub fn add_sizes(&mut self, raw_bytes: u64, jpeg_bytes: u64) {
        self.raw_bytes += raw_bytes;
        self.jpeg_bytes += jpeg_bytes;
        self.count += 1;
    }

    /// The ratio; an error when nothing was added.
    pub fn ratio(&self) -> Result<f64> {
        if self.jpeg_bytes == 0 {
            return Err(Error::Argument("compression ratio of an empty set".into()));
        }
        Ok(self.raw_bytes as f64 / self.jpeg_bytes as f64)
    }
}

/// Compression Ratio of a set of images, each encoded as Pillow's `quality=95` (4:2:0) JPEG.
pub fn compression_ratio<'a>(
    images: impl IntoIterator<Item = &'a RgbImage>,
    config: &JpegConfig,
) -> Result<f64> {
    let mut cr = CompressionRatio::new();
    for img in images {
        cr.add_image(img, config)?;
    }
    cr.ratio()
}
