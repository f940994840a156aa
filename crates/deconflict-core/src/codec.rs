//! A compact binary form of an entity's volumes: how stores keep them (so that start-up reads a
//! million entities without parsing JSON) and how [`Extents`](crate::model::Extents) holds the
//! volumes as given (smaller than the decoded form, and only writing them back needs them).
//! Layout (little-endian), version 1:
//!
//! ```text
//! u8 version=1 | u32 count | count x volume
//! volume: u8 shape (0 polygon, 1 circle)
//!         polygon: u32 n | n x (f64 lat, f64 lng)      circle: f64 lat, f64 lng, f64 radius_m
//!         u8 flags (bit0 lower, bit1 upper, bit2 start, bit3 end present)
//!         f64 lower_m? | f64 upper_m? | i64 start_us? | i64 end_us?
//! ```

use deconflict_geo::{AltitudeRange, LatLng, Shape, TimeRange, Volume4};

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("stored volumes are corrupt: {0}")]
pub struct CodecError(&'static str);

pub fn encode(volumes: &[Volume4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + volumes.len() * 120);
    out.push(VERSION);
    out.extend_from_slice(&(volumes.len() as u32).to_le_bytes());
    for v in volumes {
        match &v.shape {
            Shape::Polygon(vs) => {
                out.push(0);
                out.extend_from_slice(&(vs.len() as u32).to_le_bytes());
                for p in vs {
                    out.extend_from_slice(&p.lat.to_le_bytes());
                    out.extend_from_slice(&p.lng.to_le_bytes());
                }
            }
            Shape::Circle { center, radius_m } => {
                out.push(1);
                out.extend_from_slice(&center.lat.to_le_bytes());
                out.extend_from_slice(&center.lng.to_le_bytes());
                out.extend_from_slice(&radius_m.to_le_bytes());
            }
        }
        let a = v.altitude;
        let t = v.time;
        let flags = u8::from(a.lower_m.is_some())
            | u8::from(a.upper_m.is_some()) << 1
            | u8::from(t.start_us.is_some()) << 2
            | u8::from(t.end_us.is_some()) << 3;
        out.push(flags);
        for x in [a.lower_m, a.upper_m].into_iter().flatten() {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for x in [t.start_us, t.end_us].into_iter().flatten() {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        if self.0.len() < N {
            return Err(CodecError("truncated"));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().map_err(|_| CodecError("truncated"))
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
}

pub fn decode(bytes: &[u8]) -> Result<Vec<Volume4>, CodecError> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return Err(CodecError("unknown version"));
    }
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let shape = match r.u8()? {
            0 => {
                let n = r.u32()? as usize;
                if n > bytes.len() / 16 {
                    return Err(CodecError("vertex count larger than the record"));
                }
                let mut vs = Vec::with_capacity(n);
                for _ in 0..n {
                    let lat = r.f64()?;
                    let lng = r.f64()?;
                    vs.push(LatLng::new(lat, lng));
                }
                Shape::Polygon(vs)
            }
            1 => {
                let lat = r.f64()?;
                let lng = r.f64()?;
                Shape::Circle {
                    center: LatLng::new(lat, lng),
                    radius_m: r.f64()?,
                }
            }
            _ => return Err(CodecError("unknown shape")),
        };
        let flags = r.u8()?;
        let mut opt_f = |bit: u8| -> Result<Option<f64>, CodecError> {
            if flags & (1 << bit) != 0 {
                r.f64().map(Some)
            } else {
                Ok(None)
            }
        };
        let lower_m = opt_f(0)?;
        let upper_m = opt_f(1)?;
        let mut opt_i = |bit: u8| -> Result<Option<i64>, CodecError> {
            if flags & (1 << bit) != 0 {
                r.i64().map(Some)
            } else {
                Ok(None)
            }
        };
        let start_us = opt_i(2)?;
        let end_us = opt_i(3)?;
        out.push(Volume4 {
            shape,
            altitude: AltitudeRange { lower_m, upper_m },
            time: TimeRange { start_us, end_us },
        });
    }
    if !r.0.is_empty() {
        return Err(CodecError("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_polygons_and_circles() {
        let vols = vec![
            Volume4 {
                shape: Shape::Polygon(vec![
                    LatLng::new(1.0, 2.0),
                    LatLng::new(1.5, 2.0),
                    LatLng::new(1.5, -179.25),
                ]),
                altitude: AltitudeRange::new(0.0, 120.5),
                time: TimeRange::new(1_700_000_000_000_000, 1_700_000_360_000_000),
            },
            Volume4 {
                shape: Shape::Circle {
                    center: LatLng::new(-89.9, 0.1),
                    radius_m: 300.183,
                },
                altitude: AltitudeRange {
                    lower_m: None,
                    upper_m: Some(50.0),
                },
                time: TimeRange {
                    start_us: Some(5),
                    end_us: None,
                },
            },
        ];
        let bytes = encode(&vols);
        assert_eq!(decode(&bytes).unwrap(), vols);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let bytes = encode(&[Volume4 {
            shape: Shape::Circle {
                center: LatLng::new(0.0, 0.0),
                radius_m: 1.0,
            },
            altitude: AltitudeRange::UNBOUNDED,
            time: TimeRange::UNBOUNDED,
        }]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        let mut huge = vec![1u8];
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.push(0);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }
}
