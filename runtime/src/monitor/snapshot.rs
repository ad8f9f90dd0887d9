//! [`Monitor::snapshot`] and [`Monitor::restore`]: the counters as postcard bytes.

use super::{Monitor, SNAPSHOT_VERSION};
use crate::error::{Error, Result};
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

/// The fixed part of a snapshot (postcard), followed by the counters as a postcard
/// sequence of varint u32. Written by [`SnapshotWriter`] (the same bytes as postcard,
/// in a fraction of the code), read by postcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct SnapshotHead {
    version: u8,
    model_crc: u32,
    features: u32,
    bins: u32,
    output_bins: u32,
    window: u32,
    since_decay: u32,
    rows: u64,
    lat_count: u32,
    lat_sum: u64,
    lat_max: u32,
    clock_hz: u32,
}

/// postcard's encoding of the snapshot fields: a `u8` as itself, every other integer as
/// a LEB128 varint; `None` when `buf` is full.
struct SnapshotWriter<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl SnapshotWriter<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.at)? = b;
        self.at += 1;
        Some(())
    }

    fn varint(&mut self, mut v: u64) -> Option<()> {
        loop {
            let low = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                return self.byte(low);
            }
            self.byte(low | 0x80)?;
        }
    }

    fn write(&mut self, h: &SnapshotHead, counts: &[u32]) -> Option<usize> {
        self.byte(h.version)?;
        for v in [
            h.model_crc,
            h.features,
            h.bins,
            h.output_bins,
            h.window,
            h.since_decay,
        ] {
            self.varint(v as u64)?;
        }
        self.varint(h.rows)?;
        self.varint(h.lat_count as u64)?;
        self.varint(h.lat_sum)?;
        self.varint(h.lat_max as u64)?;
        self.varint(h.clock_hz as u64)?;
        self.varint(counts.len() as u64)?;
        for &c in counts {
            self.varint(c as u64)?;
        }
        Some(self.at)
    }
}

impl<'m> Monitor<'m> {
    /// Largest [`snapshot`](Self::snapshot) of this monitor, in bytes.
    pub fn snapshot_max_len(&self) -> usize {
        // Head: 1 + 9 varint u32 (≤ 5 bytes) + 2 varint u64 (≤ 10); counts: length + ≤ 5 each.
        1 + 9 * 5 + 2 * 10 + 5 + 5 * self.counts.len()
    }

    /// Serializes the counters (postcard: a fixed head, then every counter as a
    /// varint, so mostly-small counts take a byte or two each) into `buf`, returning
    /// the bytes written. `buf` of [`snapshot_max_len`](Self::snapshot_max_len) bytes
    /// always suffices; a shorter one may give [`Error::WrongLength`].
    pub fn snapshot<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
        let head = self.snapshot_head();
        let len = buf.len();
        let mut w = SnapshotWriter { buf, at: 0 };
        match w.write(&head, self.counts) {
            Some(n) => Ok(&mut w.buf[..n]),
            None => Err(Error::WrongLength {
                expected: self.snapshot_max_len(),
                actual: len,
            }),
        }
    }

    fn snapshot_head(&self) -> SnapshotHead {
        SnapshotHead {
            version: SNAPSHOT_VERSION,
            model_crc: self.model_crc,
            features: self.base.features,
            bins: self.base.bins,
            output_bins: self.base.output_bins() as u32,
            window: self.st.window,
            since_decay: self.st.since_decay,
            rows: self.st.rows,
            lat_count: self.st.lat_count,
            lat_sum: self.st.lat_sum,
            lat_max: self.st.lat_max,
            clock_hz: self.st.clock_hz,
        }
    }

    /// Loads the counters of a [`snapshot`](Self::snapshot) taken from a monitor of the
    /// same model (e.g. on a device), replacing this monitor's state (left unchanged on
    /// error). Errors:
    /// [`Error::BadSnapshot`] when the bytes do not decode exactly or belong to another
    /// model (CRC) or baseline shape.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let bad = Error::BadSnapshot;
        let (h, mut rest) = postcard::take_from_bytes::<SnapshotHead>(bytes).map_err(|_| bad)?;
        if h.version != SNAPSHOT_VERSION
            || h.model_crc != self.model_crc
            || h.features != self.base.features
            || h.bins != self.base.bins
            || h.output_bins as usize != self.base.output_bins()
        {
            return Err(bad);
        }
        let (n, r) = postcard::take_from_bytes::<u32>(rest).map_err(|_| bad)?;
        if n as usize != self.counts.len() {
            return Err(bad);
        }
        rest = r;
        // Decode everything before writing, so that a bad snapshot changes nothing.
        let mut check = rest;
        for _ in 0..n {
            check = postcard::take_from_bytes::<u32>(check).map_err(|_| bad)?.1;
        }
        if !check.is_empty() {
            return Err(bad);
        }
        for c in self.counts.iter_mut() {
            let (v, r) = postcard::take_from_bytes::<u32>(rest).map_err(|_| bad)?;
            *c = v;
            rest = r;
        }
        self.st.window = h.window;
        self.st.since_decay = h.since_decay;
        self.st.rows = h.rows;
        self.st.lat_count = h.lat_count;
        self.st.lat_sum = h.lat_sum;
        self.st.lat_max = h.lat_max;
        self.st.clock_hz = h.clock_hz;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_writer_writes_postcard() {
        #[derive(Serialize)]
        struct Whole<'s> {
            head: SnapshotHead,
            counts: &'s [u32],
        }
        let head = SnapshotHead {
            version: SNAPSHOT_VERSION,
            model_crc: 0xDEAD_BEEF,
            features: 3,
            bins: 10,
            output_bins: 4,
            window: 1000,
            since_decay: 999,
            rows: u64::MAX,
            lat_count: 127,
            lat_sum: 1 << 40,
            lat_max: 128,
            clock_hz: 1_000_000_000,
        };
        let counts = [0u32, 1, 127, 128, 16_383, 16_384, u32::MAX];
        let want = postcard::to_allocvec(&Whole {
            head,
            counts: &counts,
        })
        .unwrap();
        let mut buf = [0u8; 128];
        let n = SnapshotWriter {
            buf: &mut buf,
            at: 0,
        }
        .write(&head, &counts)
        .unwrap();
        assert_eq!(&buf[..n], &want[..]);
        let mut short = [0u8; 8];
        assert!(SnapshotWriter {
            buf: &mut short,
            at: 0
        }
        .write(&head, &counts)
        .is_none());
    }
}
