//! The stored form of volumes is defined in [`deconflict_core::codec`]; entities already hold
//! their volumes in it, so writing them needs no encoding.

pub use deconflict_core::codec::decode;
