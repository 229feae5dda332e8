//! Checkpoints at scale: a lazy name → tensor [`StateDict`] over safetensors files (single or
//! sharded, only headers read up front), PyTorch pickles read through burn-store and written as
//! `torch.save` writes them ([`write_pth`]), key remaps as data
//! ([`KeyRemap`]), the [`Visitor`] that moves tensors into modules by upstream name one at a
//! time in the module's dtype ([`Loader`]) or copies them out ([`Exporter`]), and listings
//! without reading data ([`list_tensors`]).
//!
//! Loading reports every missing, unexpected, mis-shaped and unreadable key in one error.
//!
//! Peak host memory while loading a lazily initialised model: the model's parameters plus the
//! largest tensor (read, then converted to the parameter dtype when the two differ: at most
//! `bytes(stored) + bytes(converted)` of one tensor at a time).

mod listing;
mod pickle;
mod pth;
mod remap;
pub mod safetensors;
pub mod sharded;
mod state_dict;
mod visitor;

pub use listing::{ListedTensor, diffusers_weight_files, list_tensors, model_weight_file};
pub use pth::write_pth;
pub use remap::{KeyRemap, KeyRule};
pub use state_dict::{StateDict, TensorInfo, dtype_name, dtype_of};
pub use visitor::{Exporter, Loader, Visitor};
