//! The stored form of volumes is defined in [`deconflict_core::codec`]; entities already hold
//! their volumes in it, so writing them needs no encoding.

use deconflict_core::model::StoredVolumes;

pub use deconflict_core::codec::decode;

/// The bytes a store keeps for `volumes`.
pub fn encode(volumes: &StoredVolumes) -> Vec<u8> {
    volumes.as_bytes().to_vec()
}
