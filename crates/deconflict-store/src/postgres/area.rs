//! Area look-ups with plain B-tree indexes.
//!
//! Each stored volume has a row in `volumes` with its index box (x, y, z of the bounding cap in
//! metres from the Earth's centre, altitude, time), a size class `k` (the box is at most
//! `s = CLASS_EXTENT_M[k]` wide in x, y and z), a cube face (the axis, with its sign, along
//! which the box's centre is largest) and a grid cell `(cu, cv)`: the box's lower corner along
//! the face's two other axes `u` and `v`, divided by `s` and rounded down.
//!
//! A box of class `k` that overlaps a query box `q` along an axis has `lo <= q.hi` and
//! `hi >= q.lo`, and since `hi <= lo + s`, `lo >= q.lo - s`: its cell lies in a small known
//! range on each axis. The index `(kind, size_class, face, cu, cv)` answers each class and face
//! with one short range scan over `cv` per candidate `cu` (an `IN` list; a plain range when it
//! would be long), so the scan, and under SERIALIZABLE the predicate locks it takes, stay
//! within the cells around the query. The remaining bounds are checked on the row, and the
//! exact shape test runs in Rust on what is left. On a face the two other coordinates vary
//! about linearly with the position on the ground, so cells are compact everywhere, poles and
//! antimeridian included.
//!
//! Classes grow by a factor of 4 from 100 m, so a box is never more than 4 times smaller than
//! its cell. Nothing here is PostgreSQL-specific: CockroachDB and YugabyteDB accept the same
//! index and queries.
//!
//! The look-up is one statement of fixed shape ([`area_sql`]): the probes (one row per class,
//! face and `cu`, with the `cv` range and the query box) come in as array parameters, are
//! unnested and joined to the index, and the matching rows are read by primary key. Each
//! connection prepares it once, and PostgreSQL plans it once (a generic plan: nested index
//! scans).
//!
//! Cost (PostgreSQL 15, 2 shared cores, release build, 100,000 intents within about
//! 200 x 200 km, `tests/area_cost.rs`): a 500 m look-up 1.1-1.2 ms; 2 km 0.9-1.3 ms (about 50
//! index scans, 480 entries read, 6 intents found); 20 km 5-7 ms (144 found). Before, with a
//! `UNION ALL` of 20 to 30 branches of literals planned anew each time: 5.8, 6.7 and 14.4 ms,
//! of which about 3 ms was planning. What is left is mostly the index descents (one per probe
//! row) and decoding the rows found.

use deconflict_geo::PreparedVolume;

/// The largest x, y and z extent of the boxes in each class, in metres. The last one exceeds
/// the Earth's diameter, so every box has a class.
pub(crate) const CLASS_EXTENT_M: [f64; 10] = [
    100.0,
    400.0,
    1_600.0,
    6_400.0,
    25_600.0,
    102_400.0,
    409_600.0,
    1_638_400.0,
    6_553_600.0,
    30_000_000.0,
];

/// The kinds of entity, as stored in `volumes.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    OperationalIntent = 1,
    Constraint = 2,
    Subscription = 3,
}

impl Kind {
    pub(crate) fn code(self) -> i16 {
        self as i16
    }
}

/// One volume's row in `volumes`: its class, face and `[x, y, z, alt, t]` lower and upper
/// bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct VolumeBox {
    pub class: i16,
    pub face: i16,
    pub cu: i64,
    pub cv: i64,
    pub lo: [f64; 5],
    pub hi: [f64; 5],
}

/// Longest run of cells along `cu` probed one by one; past it the whole `cu` range is scanned
/// instead (only for a look-up far larger than the class's cells).
const MAX_CELL_LIST: i64 = 256;

fn cell(x: f64, size: f64) -> i64 {
    (x / size).floor() as i64
}

/// Face `2 * axis + (1 if negative)`, of the box centre's largest coordinate.
fn face_of(lo: &[f64; 5], hi: &[f64; 5]) -> i16 {
    let c = [0, 1, 2].map(|i| (lo[i] + hi[i]) / 2.0);
    let mut axis = 0;
    for i in 1..3 {
        if c[i].abs() > c[axis].abs() {
            axis = i;
        }
    }
    (2 * axis + usize::from(c[axis] < 0.0)) as i16
}

/// The two axes other than the face's.
fn face_axes(face: i16) -> (usize, usize) {
    let axis = (face / 2) as usize;
    ((axis + 1) % 3, (axis + 2) % 3)
}

/// The smallest absolute value in `[lo, hi]`.
fn min_abs(lo: f64, hi: f64) -> f64 {
    if lo <= 0.0 && hi >= 0.0 {
        0.0
    } else {
        lo.abs().min(hi.abs())
    }
}

/// Whether a box of extent at most `extent` filed under `face` may overlap the query box: its
/// centre then lies in the query box grown by `extent`, and must have its largest coordinate
/// along the face's axis, with the face's sign.
fn face_possible(face: i16, qlo: &[f64; 5], qhi: &[f64; 5], extent: f64) -> bool {
    let axis = (face / 2) as usize;
    let (u, v) = face_axes(face);
    let reach = if face % 2 == 0 {
        qhi[axis] + extent
    } else {
        -(qlo[axis] - extent)
    };
    let others =
        min_abs(qlo[u] - extent, qhi[u] + extent).max(min_abs(qlo[v] - extent, qhi[v] + extent));
    reach >= 0.0 && reach >= others
}

pub(crate) fn size_class(lo: &[f64; 5], hi: &[f64; 5]) -> i16 {
    let extent = (0..3).map(|i| hi[i] - lo[i]).fold(0.0, f64::max);
    let k = CLASS_EXTENT_M
        .iter()
        .position(|&e| extent <= e)
        .unwrap_or(CLASS_EXTENT_M.len() - 1);
    k as i16
}

pub(crate) fn volume_box(v: &PreparedVolume) -> VolumeBox {
    let (lo, hi) = v.index_bounds();
    let class = size_class(&lo, &hi);
    let face = face_of(&lo, &hi);
    let (u, v) = face_axes(face);
    let size = CLASS_EXTENT_M[class as usize];
    VolumeBox {
        class,
        face,
        cu: cell(lo[u], size),
        cv: cell(lo[v], size),
        lo,
        hi,
    }
}

/// A bound for the database. Index bounds are finite by construction; a non-finite value
/// would be a bug, and widening it to the largest double keeps the filter conservative.
fn finite(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(f64::MIN, f64::MAX)
    }
}

/// The rows of one `unnest` in [`area_sql`]: one per index range to scan, each with the query
/// box it must overlap.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Probes {
    pub class: Vec<i16>,
    pub face: Vec<i16>,
    pub cu_lo: Vec<i64>,
    pub cu_hi: Vec<i64>,
    pub cv_lo: Vec<i64>,
    pub cv_hi: Vec<i64>,
    /// `[x, y, z, alt, t]` lower and upper bounds of the query box.
    pub lo: [Vec<f64>; 5],
    pub hi: [Vec<f64>; 5],
}

impl Probes {
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, class: i16, face: i16, cu: (i64, i64), cv: (i64, i64), q: &Bounds) {
        self.class.push(class);
        self.face.push(face);
        self.cu_lo.push(cu.0);
        self.cu_hi.push(cu.1);
        self.cv_lo.push(cv.0);
        self.cv_hi.push(cv.1);
        for d in 0..5 {
            self.lo[d].push(finite(q.0[d]));
            self.hi[d].push(finite(q.1[d]));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.class.len()
    }

    /// Whether the SQL condition of these probes accepts `stored` (for tests).
    #[cfg(test)]
    fn accept(&self, stored: &VolumeBox) -> bool {
        (0..self.len()).any(|i| {
            self.class[i] == stored.class
                && self.face[i] == stored.face
                && (self.cu_lo[i]..=self.cu_hi[i]).contains(&stored.cu)
                && (self.cv_lo[i]..=self.cv_hi[i]).contains(&stored.cv)
                && (0..5).all(|d| stored.lo[d] <= self.hi[d][i] && stored.hi[d] >= self.lo[d][i])
        })
    }
}

type Bounds = ([f64; 5], [f64; 5]);

/// What an area look-up scans: `cells`, one row per `(class, face, cu)` with a `cv` range (an
/// index equality on `cu`, so each row is one short range scan), and `ranges`, rows with a
/// range of `cu` too, for the rare look-up that would need more than [`MAX_CELL_LIST`] cells
/// along `cu`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct AreaProbes {
    pub cells: Probes,
    pub ranges: Probes,
}

impl AreaProbes {
    pub(crate) fn is_empty(&self) -> bool {
        self.cells.len() == 0 && self.ranges.len() == 0
    }

    /// Whether the look-up accepts `stored` (for tests).
    #[cfg(test)]
    pub(crate) fn accept(&self, stored: &VolumeBox) -> bool {
        self.cells.accept(stored) || self.ranges.accept(stored)
    }
}

/// The probes that find every volume whose box overlaps the box of a volume of `area`: never
/// an entity the exact test would accept is missed. Empty when `area` is empty.
pub(crate) fn probes(area: &[PreparedVolume]) -> AreaProbes {
    let mut out = AreaProbes::default();
    for q in area {
        let bounds = q.index_bounds();
        let (qlo, qhi) = (&bounds.0, &bounds.1);
        for (class, extent) in CLASS_EXTENT_M.iter().enumerate() {
            for face in 0..6 {
                if !face_possible(face, qlo, qhi, *extent) {
                    continue;
                }
                let (u, v) = face_axes(face);
                let (cu_lo, cu_hi) = (cell(qlo[u] - extent, *extent), cell(qhi[u], *extent));
                let cv = (cell(qlo[v] - extent, *extent), cell(qhi[v], *extent));
                let class = class as i16;
                if cu_hi - cu_lo < MAX_CELL_LIST {
                    for cu in cu_lo..=cu_hi {
                        out.cells.push(class, face, (cu, cu), cv, &bounds);
                    }
                } else {
                    out.ranges.push(class, face, (cu_lo, cu_hi), cv, &bounds);
                }
            }
        }
    }
    out
}

/// The columns of one probe row, as `unnest` returns them, and the condition a volume `v`
/// must meet; `{cu}` is the condition on `cu`.
const PROBE_COLS: &str = "c, f, cu_lo, cu_hi, cv_lo, cv_hi, xl, xh, yl, yh, zl, zh, al, ah, tl, th";
const PROBE_MATCH: &str = "v.size_class = p.c AND v.face = p.f AND {cu} \
     AND v.cv >= p.cv_lo AND v.cv <= p.cv_hi \
     AND v.x_lo <= p.xh AND v.y_lo <= p.yh AND v.z_lo <= p.zh \
     AND v.x_hi >= p.xl AND v.y_hi >= p.yl AND v.z_hi >= p.zl \
     AND v.alt_lo <= p.ah AND v.alt_hi >= p.al AND v.t_lo <= p.th AND v.t_hi >= p.tl";

fn unnest_of(first: usize) -> String {
    let types = [
        "int2", "int2", "int8", "int8", "int8", "int8", "float8", "float8", "float8", "float8",
        "float8", "float8", "float8", "float8", "float8", "float8",
    ];
    let args: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", first + i))
        .collect();
    format!("unnest({}) AS p({PROBE_COLS})", args.join(", "))
}

/// The one statement of an area look-up on `table`: the rows (`cols`) of the entities of
/// `kind` with a volume that meets a probe. Its text is fixed, so each connection prepares it
/// once: `$1` is the kind, `$2`..`$17` the columns of [`AreaProbes::cells`], `$18`..`$33`
/// those of [`AreaProbes::ranges`] (see [`area_params`]). Plain SQL that CockroachDB and
/// YugabyteDB accept too.
pub(crate) fn area_sql(table: &str, cols: &str) -> String {
    let cells = PROBE_MATCH.replace("{cu}", "v.cu = p.cu_lo");
    let ranges = PROBE_MATCH.replace("{cu}", "v.cu >= p.cu_lo AND v.cu <= p.cu_hi");
    format!(
        "SELECT {cols} FROM {table} WHERE id IN (\
         SELECT v.entity_id FROM {} JOIN volumes v ON v.kind = $1 AND {cells} \
         UNION ALL \
         SELECT v.entity_id FROM {} JOIN volumes v ON v.kind = $1 AND {ranges})",
        unnest_of(2),
        unnest_of(18),
    )
}

/// The one statement of an area look-up of every kind at once: rows of a kind code, then the
/// columns `oi_cols` (8), `constraint_cols` (6) and `sub_cols` (10), with those of the other
/// kinds NULL. `$1`..`$32` are the probes, as `$2`..`$33` of [`area_sql`]. The entities that
/// changed in the transaction are laid over it by the caller, as for any look-up.
pub(crate) fn all_kinds_sql_with(oi_cols: &str, constraint_cols: &str, sub_cols: &str) -> String {
    let cells = PROBE_MATCH.replace("{cu}", "v.cu = p.cu_lo");
    let ranges = PROBE_MATCH.replace("{cu}", "v.cu >= p.cu_lo AND v.cu <= p.cu_hi");
    let prefixed = |cols: &str, t: &str| -> String {
        cols.split(',')
            .map(|c| format!("{t}.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let oi_nulls = "NULL::text, NULL::text, NULL::int8, NULL::text, NULL::text, NULL::text, \
                    NULL::text, NULL::bytea";
    let constraint_nulls = "NULL::text, NULL::text, NULL::int8, NULL::text, NULL::text, \
                            NULL::bytea";
    let sub_nulls = "NULL::text, NULL::text, NULL::text, NULL::int8, NULL::text, NULL::bool, \
                     NULL::bool, NULL::bool, NULL::text, NULL::bytea";
    format!(
        "WITH c AS (\
         SELECT v.kind, v.entity_id FROM {} JOIN volumes v ON v.kind IN (1, 2, 3) AND {cells} \
         UNION ALL \
         SELECT v.kind, v.entity_id FROM {} JOIN volumes v ON v.kind IN (1, 2, 3) AND {ranges}) \
         SELECT 1::int2, {}, {constraint_nulls}, {sub_nulls} FROM operational_intents o \
         WHERE o.id IN (SELECT entity_id FROM c WHERE kind = 1) \
         UNION ALL \
         SELECT 2::int2, {oi_nulls}, {}, {sub_nulls} FROM constraints k \
         WHERE k.id IN (SELECT entity_id FROM c WHERE kind = 2) \
         UNION ALL \
         SELECT 3::int2, {oi_nulls}, {constraint_nulls}, {} FROM subscriptions s \
         WHERE s.id IN (SELECT entity_id FROM c WHERE kind = 3)",
        unnest_of(1),
        unnest_of(17),
        prefixed(oi_cols, "o"),
        prefixed(constraint_cols, "k"),
        prefixed(sub_cols, "s"),
    )
}

/// The parameters of [`area_sql`].
pub(crate) fn area_params<'a>(
    kind: &'a i16,
    p: &'a AreaProbes,
) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    let mut out: Vec<&'a (dyn postgres::types::ToSql + Sync)> = vec![kind];
    for set in [&p.cells, &p.ranges] {
        out.push(&set.class);
        out.push(&set.face);
        out.push(&set.cu_lo);
        out.push(&set.cu_hi);
        out.push(&set.cv_lo);
        out.push(&set.cv_hi);
        for d in 0..5 {
            out.push(&set.lo[d]);
            out.push(&set.hi[d]);
        }
    }
    out
}

/// Whether two boxes overlap, as the SQL filter decides it (for tests).
#[cfg(test)]
pub(crate) fn sql_filter_accepts(stored: &VolumeBox, q: &PreparedVolume) -> bool {
    probes(std::slice::from_ref(q)).accept(stored)
}

#[cfg(test)]
mod tests {
    use deconflict_geo::{
        any_intersects, AltitudeRange, LatLng, Shape, ShapeLimits, TimeRange, Volume4,
    };

    use super::*;

    fn circle(lat: f64, lng: f64, radius_m: f64) -> PreparedVolume {
        Volume4 {
            shape: Shape::Circle {
                center: LatLng::new(lat, lng),
                radius_m,
            },
            altitude: AltitudeRange::new(0.0, 100.0),
            time: TimeRange::new(1_750_000_000_000_000, 1_750_003_600_000_000),
        }
        .prepare(&ShapeLimits {
            max_area_km2: None,
            ..ShapeLimits::default()
        })
        .unwrap()
    }

    #[test]
    fn classes_bound_the_extent() {
        for r in [1.0, 40.0, 60.0, 500.0, 9_000.0, 300_000.0, 4_000_000.0] {
            let v = circle(47.0, 8.0, r);
            let b = volume_box(&v);
            for i in 0..3 {
                assert!(b.hi[i] - b.lo[i] <= CLASS_EXTENT_M[b.class as usize]);
            }
            if b.class > 0 {
                let extent = (0..3).map(|i| b.hi[i] - b.lo[i]).fold(0.0, f64::max);
                assert!(extent > CLASS_EXTENT_M[b.class as usize - 1]);
            }
        }
    }

    /// The SQL pre-filter never drops a pair the exact test accepts, across sizes from metres
    /// to thousands of kilometres, near the antimeridian and the poles.
    #[test]
    fn the_filter_never_drops_an_intersecting_pair() {
        let mut checked = 0;
        for (lat, lng) in [
            (47.0, 8.0),
            (0.0, 179.999),
            (89.99, 0.0),
            (-45.0, -120.0),
            (35.264, 45.0),
            (0.0, -45.0),
        ] {
            let radii = [
                1.0,
                30.0,
                90.0,
                350.0,
                2_000.0,
                20_000.0,
                500_000.0,
                3_000_000.0,
            ];
            for &ra in &radii {
                for &rb in &radii {
                    for step in 0..8 {
                        // Offsets around the sum of the radii, so some touch and some miss.
                        let d_deg = (ra + rb) * (0.6 + 0.1 * f64::from(step)) / 111_195.0;
                        let a = circle(lat, lng, ra);
                        let b = circle((lat - d_deg).max(-90.0), lng, rb);
                        let stored = volume_box(&b);
                        if any_intersects(std::slice::from_ref(&a), std::slice::from_ref(&b)) {
                            assert!(
                                sql_filter_accepts(&stored, &a),
                                "{lat},{lng} {ra} {rb} {step}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} intersecting pairs");
    }

    #[test]
    fn a_few_probes_per_class_and_query_volume() {
        let q = [circle(1.0, 2.0, 50.0), circle(1.0, 2.1, 50.0)];
        let p = probes(&q);
        // Far from any cube edge, only the face at hand is probed, except for the largest
        // classes, whose boxes may be centred on a neighbouring face; a 100 m look-up needs a
        // few cells along `cu` per class.
        assert!(p.ranges.len() == 0, "{:?}", p.ranges);
        let n = p.cells.len();
        assert!(n >= 2 * CLASS_EXTENT_M.len(), "{n}");
        assert!(n <= 2 * CLASS_EXTENT_M.len() * 3 * 3, "{n}");
        assert!(p.cells.face.contains(&0));
        assert!(p
            .cells
            .lo
            .iter()
            .chain(p.cells.hi.iter())
            .flatten()
            .all(|x| x.is_finite()));
        assert!(probes(&[]).is_empty());
        // A look-up much larger than the smallest cells scans ranges of `cu` for those.
        let big = probes(&[circle(1.0, 2.0, 40_000.0)]);
        assert!(big.ranges.len() > 0);
        assert!(
            big.ranges.class.iter().all(|&c| c < 2),
            "{:?}",
            big.ranges.class
        );
    }

    #[test]
    fn the_statement_has_a_fixed_shape() {
        let sql = area_sql("constraints", "id");
        assert_eq!(sql.matches("unnest(").count(), 2);
        assert!(sql.contains("$33::float8[]") && !sql.contains("$34"));
        let p = probes(&[circle(1.0, 2.0, 50.0)]);
        assert_eq!(area_params(&2, &p).len(), 33);
    }
}
