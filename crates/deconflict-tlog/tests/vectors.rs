//! Our tree against published test vectors: the RFC 6962 tree of certificate-transparency's
//! test suite (roots, audit paths, consistency proofs, as in transparency-dev/merkle
//! `testonly`), and the golden roots of larger trees from transparency-dev/merkle's
//! `compact` tests (leaf `i` is the two bytes `i & 0xff, i >> 8`), which cross our 256-leaf
//! blocks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use deconflict_tlog::{Hash, Log, SqliteLogStorage};
use tlog_tiles::{check_record, check_tree};

fn hex(s: &str) -> Hash {
    let b: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    Hash(b.try_into().unwrap())
}

fn b64(s: &str) -> Hash {
    Hash::parse_hash(s).unwrap()
}

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn log_in(dir: &tempfile::TempDir) -> Log<SqliteLogStorage> {
    Log::open(SqliteLogStorage::open(dir.path().join("log.sqlite")).unwrap()).unwrap()
}

#[test]
fn rfc6962_reference_tree_roots_paths_and_consistency_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    // One leaf per append, so that every intermediate size really existed.
    for l in LEAVES {
        log.append_encoded(vec![bytes(l)]).unwrap();
    }
    assert_eq!(log.root(0).unwrap(), tlog_tiles::EMPTY_HASH);
    for (n, want) in ROOTS.iter().enumerate() {
        assert_eq!(
            log.root(n as u64 + 1).unwrap(),
            hex(want),
            "root of size {}",
            n + 1
        );
    }
    let paths: [(u64, u64, &[&str]); 7] = [
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, size, want) in paths {
        let got = log.inclusion_proof(index, size).unwrap();
        let want: Vec<Hash> = want.iter().map(|h| hex(h)).collect();
        assert_eq!(got, want, "audit path of {index} in {size}");
        let leaf = tlog_tiles::record_hash(&bytes(LEAVES[index as usize]));
        check_record(&got, size, hex(ROOTS[size as usize - 1]), index, leaf).unwrap();
    }
    let proofs: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, new, want) in proofs {
        let got = log.consistency_proof(old, new).unwrap();
        let want: Vec<Hash> = want.iter().map(|h| hex(h)).collect();
        assert_eq!(got, want, "consistency {old} -> {new}");
        check_tree(
            &got,
            new,
            hex(ROOTS[new as usize - 1]),
            old,
            hex(ROOTS[old as usize - 1]),
        )
        .unwrap();
    }
    // Requests outside the tree are refused with the rule, not a panic.
    assert!(log
        .inclusion_proof(8, 8)
        .unwrap_err()
        .to_string()
        .contains("below the tree size"));
    assert!(log
        .inclusion_proof(3, 9)
        .unwrap_err()
        .to_string()
        .contains("larger than the log"));
    assert!(log.consistency_proof(0, 8).is_err());
    assert!(log.consistency_proof(5, 4).is_err());
}

#[test]
fn golden_roots_of_larger_trees_across_blocks_and_a_reopen() {
    let golden: [(u64, &str); 11] = [
        (10, "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4="),
        (15, "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI="),
        (16, "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE="),
        (100, "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY="),
        (255, "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0="),
        (256, "qFI0t/tZ1MdOYgyPpPzHFiZVw86koScXy9q3FU5casA="),
        (1000, "RXrgb8xHd55Y48FbfotJwCbV82Kx22LZfEbmBGAvwlQ="),
        (4095, "cWRFdQhPcjn9WyBXE/r1f04ejxIm5lvg40DEpRBVS0w="),
        (4096, "6uU/phfHg1n/GksYT6TO9aN8EauMCCJRl3dIK0HDs2M="),
        (10000, "VZcav65F9haHVRk3wre2axFoBXRNeUh/1d9d5FQfxIg="),
        (65535, "iPuVYJhP6SEE4gUFp8qbafd2rYv9YTCDYqAxCj8HdLM="),
    ];
    let dir = tempfile::tempdir().unwrap();
    let leaf = |i: u64| vec![(i & 0xff) as u8, ((i >> 8) & 0xff) as u8];
    {
        let log = log_in(&dir);
        // Uneven batches, so that batch edges fall anywhere in blocks.
        let mut i = 0;
        let mut batch = 1;
        while i < 65535 {
            let end = (i + batch).min(65535);
            log.append_encoded((i..end).map(leaf).collect()).unwrap();
            i = end;
            batch = batch * 7 % 1013 + 1;
        }
        for (size, root) in golden {
            assert_eq!(log.root(size).unwrap(), b64(root), "root of size {size}");
        }
    }
    // Memory rebuilt from storage gives the same roots, and proofs that check.
    let log = log_in(&dir);
    assert_eq!(log.size(), 65535);
    for (size, root) in golden {
        let root = b64(root);
        assert_eq!(log.root(size).unwrap(), root);
        for index in [0, size / 3, size - 1] {
            let p = log.inclusion_proof(index, size).unwrap();
            check_record(&p, size, root, index, tlog_tiles::record_hash(&leaf(index))).unwrap();
        }
        let p = log.consistency_proof(size, 65535).unwrap();
        check_tree(&p, 65535, b64(golden[10].1), size, root).unwrap();
    }
}
