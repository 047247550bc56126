//! Length-prefixed frames on a byte stream: the framing of `/tacit/sync/1`.
//!
//! ```text
//! +----------------------+------------------------+
//! | length: u32, big end | length bytes of frame  |   repeated; zero-length frames are allowed
//! +----------------------+------------------------+
//! ```
//!
//! A reader refuses a declared length above its limit as soon as it has read the four length bytes,
//! before buffering anything of the body, and the buffer of a body grows with the bytes that
//! actually arrive, so a peer that announces a large frame and sends nothing costs nothing.

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Frames up to this size are written with one `write` call (prefix and body copied together), so
/// that a small message is one Yamux frame / one QUIC packet. Larger ones are written in two calls
/// rather than copied.
const COALESCE_UP_TO: usize = 16 * 1024;

/// Bytes written to a stream at a time ([`write_in_pieces`]). The multiplexer sends each write as
/// a frame of its own (Yamux: at most 16 KiB), and the receiving side allocates each frame's body
/// zeroed. At 16 KiB that is a "large" allocation for jemalloc (the allocator of `tacit` and the
/// app), which zeroes a recycled one by handing its pages back to the kernel (`madvise`) and
/// faulting them in again: a fifth of an attachment transfer's CPU, measured. Up to 14 KiB it is
/// a small one, zeroed with a `memset` in the cache.
pub const MUX_PIECE: usize = 14 * 1024;

/// Writes `bytes` in writes of at most [`MUX_PIECE`] bytes.
pub async fn write_in_pieces<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    for piece in bytes.chunks(MUX_PIECE) {
        w.write_all(piece).await?;
    }
    Ok(())
}

/// How much [`FrameReader::recv`] and [`Framed::recv`] read from the stream at a time. It sits in
/// the receive future, so it is kept small.
const RECV_CHUNK: usize = 8 * 1024;

/// What can go wrong reading or writing a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame (written, or declared by the peer's length prefix) is larger than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a frame (in its length prefix or its body).
    #[error("the stream ended in the middle of a frame")]
    Truncated,
    /// The underlying stream failed.
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
}

fn check_len(len: usize, max: usize) -> Result<u32, FrameError> {
    match u32::try_from(len) {
        Ok(len32) if len <= max => Ok(len32),
        _ => Err(FrameError::TooLarge { len, max }),
    }
}

/// The declared length of a frame, from its prefix.
fn declared_len(header: [u8; HEADER_LEN]) -> usize {
    // u32 always fits a usize on the 32- and 64-bit targets Tacit builds for; saturate otherwise
    // so that the limit check refuses it.
    usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX)
}

/// Writes one frame and flushes. Refuses (writing nothing) a frame longer than `max`.
///
/// Not cancel-safe: dropping the future part-way leaves a partial frame on the stream.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    frame: &[u8],
    max: usize,
) -> Result<(), FrameError> {
    let header = check_len(frame.len(), max)?.to_be_bytes();
    if frame.len() <= COALESCE_UP_TO {
        let mut buf = Vec::with_capacity(HEADER_LEN + frame.len());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(frame);
        write_in_pieces(w, &buf).await?;
    } else {
        w.write_all(&header).await?;
        write_in_pieces(w, frame).await?;
    }
    w.flush().await?;
    Ok(())
}

/// Reads one frame: `None` on a clean end of stream before a frame, [`FrameError::TooLarge`] for a
/// declared length above `max` (nothing of the body is read), [`FrameError::Truncated`] if the
/// stream ends inside a frame.
///
/// Not cancel-safe: dropping the future part-way loses the bytes read so far. Use [`Framed`] or
/// [`FrameReader`] where a receive may be cancelled (`select!`).
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = r.read(&mut header[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        filled += n;
    }
    let len = declared_len(header);
    check_len(len, max)?;
    // Start small and let `read_to_end` grow the buffer with what arrives.
    let mut body = Vec::with_capacity(len.min(RECV_CHUNK));
    let got = futures::AsyncReadExt::take(&mut *r, len as u64)
        .read_to_end(&mut body)
        .await?;
    if got < len {
        return Err(FrameError::Truncated);
    }
    Ok(Some(body))
}

/// Takes the first complete frame out of `buf`, if there is one.
fn take_frame(buf: &mut Vec<u8>, max: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let len = declared_len(*header);
    check_len(len, max)?;
    let end = HEADER_LEN + len;
    if buf.len() < end {
        return Ok(None);
    }
    let frame = buf[HEADER_LEN..end].to_vec();
    buf.drain(..end);
    Ok(Some(frame))
}

/// The buffered, cancel-safe receive shared by [`Framed`] and [`FrameReader`].
async fn recv_buffered<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        if let Some(frame) = take_frame(buf, max)? {
            return Ok(Some(frame));
        }
        let mut chunk = [0u8; RECV_CHUNK];
        // The only await: if the future is dropped here nothing was consumed, and what a completed
        // read returned is in `buf` before the next await.
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A whole stream speaking frames: [`send`](Self::send) and a cancel-safe [`recv`](Self::recv).
/// [`split`](Self::split) it to send and receive from different tasks.
#[derive(Debug)]
pub struct Framed<S> {
    io: S,
    max: usize,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Framed<S> {
    /// Frames on `io`, refusing frames longer than `max` in both directions.
    pub fn new(io: S, max: usize) -> Self {
        Self {
            io,
            max,
            buf: Vec::new(),
        }
    }

    /// Writes one frame and flushes (not cancel-safe, see [`write_frame`]).
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), FrameError> {
        write_frame(&mut self.io, frame, self.max).await
    }

    /// The next frame, or `None` when the peer closed its side cleanly between frames.
    /// Cancel-safe: a dropped `recv` loses no bytes.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        recv_buffered(&mut self.io, &mut self.buf, self.max).await
    }

    /// Closes the sending side (the peer's `recv` then returns `None`).
    pub async fn close(&mut self) -> Result<(), FrameError> {
        self.io.close().await?;
        Ok(())
    }

    /// A reader and a writer on the two halves of the stream (the reader keeps what was buffered).
    pub fn split(
        self,
    ) -> (
        FrameReader<futures::io::ReadHalf<S>>,
        FrameWriter<futures::io::WriteHalf<S>>,
    ) {
        let (r, w) = self.io.split();
        (
            FrameReader {
                io: r,
                max: self.max,
                buf: self.buf,
            },
            FrameWriter::new(w, self.max),
        )
    }
}

/// The receiving half of a framed stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Frames from `io`, refusing frames longer than `max`.
    pub fn new(io: R, max: usize) -> Self {
        Self {
            io,
            max,
            buf: Vec::new(),
        }
    }

    /// The next frame, or `None` at a clean end of stream. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        recv_buffered(&mut self.io, &mut self.buf, self.max).await
    }
}

/// The sending half of a framed stream.
#[derive(Debug)]
pub struct FrameWriter<W> {
    io: W,
    max: usize,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Frames onto `io`, refusing frames longer than `max`.
    pub fn new(io: W, max: usize) -> Self {
        Self { io, max }
    }

    /// Writes one frame and flushes (not cancel-safe, see [`write_frame`]).
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), FrameError> {
        write_frame(&mut self.io, frame, self.max).await
    }

    /// Closes the sending side.
    pub async fn close(&mut self) -> Result<(), FrameError> {
        self.io.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        pin::Pin,
        task::{Context, Poll},
    };

    use futures::{FutureExt as _, executor::block_on, io::Cursor};

    use super::*;

    fn encode(frames: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            block_on(write_frame(&mut out, f, usize::MAX)).expect("writing to a Vec");
        }
        out
    }

    /// Reads every frame with `read_frame` until the end or an error.
    fn read_all(bytes: &[u8], max: usize) -> (Vec<Vec<u8>>, Option<FrameError>) {
        let mut r = Cursor::new(bytes);
        let mut frames = Vec::new();
        loop {
            match block_on(read_frame(&mut r, max)) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => return (frames, None),
                Err(e) => return (frames, Some(e)),
            }
        }
    }

    /// A reader that hands out at most one byte per call and counts the bytes it gave.
    struct Trickle<'a> {
        data: &'a [u8],
        given: usize,
        pending_next: bool,
        with_pending: bool,
    }

    impl<'a> Trickle<'a> {
        fn new(data: &'a [u8], with_pending: bool) -> Self {
            Self {
                data,
                given: 0,
                pending_next: with_pending,
                with_pending,
            }
        }
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.pending_next {
                self.pending_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.pending_next = self.with_pending;
            let Some((&b, _)) = self.data[self.given..].split_first() else {
                return Poll::Ready(Ok(0));
            };
            match buf.first_mut() {
                Some(slot) => {
                    *slot = b;
                    self.given += 1;
                    Poll::Ready(Ok(1))
                }
                None => Poll::Ready(Ok(0)),
            }
        }
    }

    #[test]
    fn frames_round_trip_including_empty_and_large_ones() {
        let big = vec![7u8; 100_000];
        let frames: Vec<&[u8]> = vec![b"hello", b"", &big, b"x"];
        let bytes = encode(&frames);
        assert_eq!(&bytes[..HEADER_LEN], &5u32.to_be_bytes());
        let (got, err) = read_all(&bytes, 1 << 20);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, frames);
    }

    #[test]
    fn a_frame_at_the_limit_passes_and_one_above_is_refused_on_both_sides() {
        let bytes = encode(&[&[1u8; 10]]);
        assert_eq!(read_all(&bytes, 10).0.len(), 1);
        assert!(matches!(
            read_all(&bytes, 9).1,
            Some(FrameError::TooLarge { len: 10, max: 9 })
        ));
        let mut out = Vec::new();
        let err = block_on(write_frame(&mut out, &[0u8; 10], 9)).expect_err("above the limit");
        assert!(matches!(err, FrameError::TooLarge { len: 10, max: 9 }));
        assert!(out.is_empty(), "nothing is written for a refused frame");
    }

    #[test]
    fn an_oversized_declared_length_is_refused_after_reading_only_the_prefix() {
        // The peer declares 4 GiB - 1 and would send forever: we must stop after the prefix.
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(0xAB, 1000));
        let mut r = Trickle::new(&bytes, false);
        let err = block_on(read_frame(&mut r, 16 * 1024 * 1024)).expect_err("too large");
        assert!(
            matches!(err, FrameError::TooLarge { len, max } if len == u32::MAX as usize && max == 16 * 1024 * 1024),
            "{err:?}"
        );
        assert_eq!(r.given, HEADER_LEN, "read_frame read past the prefix");

        let mut framed = Framed::new(Cursor::new(bytes.clone()), 1024);
        let err = block_on(framed.recv()).expect_err("too large");
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err:?}");
        assert!(
            framed.buf.len() <= RECV_CHUNK,
            "Framed buffered {} bytes of a refused frame",
            framed.buf.len()
        );
    }

    #[test]
    fn a_large_declared_length_with_a_short_body_is_truncated() {
        // Declares 16 MiB, sends 3 bytes, ends. (The body buffer starts at RECV_CHUNK and grows
        // with what arrives, so this costs kilobytes, not 16 MiB.)
        let mut bytes = (16u32 * 1024 * 1024).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let (_, err) = read_all(&bytes, 16 * 1024 * 1024);
        assert!(matches!(err, Some(FrameError::Truncated)), "{err:?}");
    }

    #[test]
    fn the_end_of_the_stream_inside_a_frame_is_truncated_and_between_frames_is_none() {
        let bytes = encode(&[b"hello"]);
        for cut in 1..bytes.len() {
            let (got, err) = read_all(&bytes[..cut], 100);
            assert!(got.is_empty());
            assert!(
                matches!(err, Some(FrameError::Truncated)),
                "cut at {cut}: {err:?}"
            );
            let mut framed = Framed::new(Cursor::new(bytes[..cut].to_vec()), 100);
            assert!(matches!(
                block_on(framed.recv()),
                Err(FrameError::Truncated)
            ));
        }
        assert!(matches!(read_all(&[], 100), (v, None) if v.is_empty()));
        let mut framed = Framed::new(Cursor::new(Vec::new()), 100);
        assert!(matches!(block_on(framed.recv()), Ok(None)));
    }

    /// A small deterministic generator (xorshift64*), so garbage is the same on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    fn same_outcome(
        a: &Result<Option<Vec<u8>>, FrameError>,
        b: &Result<Option<Vec<u8>>, FrameError>,
    ) -> bool {
        match (a, b) {
            (Ok(x), Ok(y)) => x == y,
            (
                Err(FrameError::TooLarge { len: l1, max: m1 }),
                Err(FrameError::TooLarge { len: l2, max: m2 }),
            ) => l1 == l2 && m1 == m2,
            (Err(FrameError::Truncated), Err(FrameError::Truncated)) => true,
            _ => false,
        }
    }

    #[test]
    fn garbage_gives_frames_within_the_limit_or_an_error_and_both_readers_agree() {
        let mut rng = Rng(0x7ac1_7ac1_7ac1_7ac1);
        let max = 24;
        for case in 0..2000 {
            let len = (rng.next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Make small declared lengths common, so that complete frames occur too.
            if case % 2 == 0 && bytes.len() >= 4 {
                bytes[0] = 0;
                bytes[1] = 0;
                bytes[2] = 0;
                bytes[3] %= 32;
            }
            let mut plain = Cursor::new(bytes.clone());
            let mut framed = Framed::new(Cursor::new(bytes.clone()), max);
            loop {
                let a = block_on(read_frame(&mut plain, max));
                let b = block_on(framed.recv());
                assert!(
                    same_outcome(&a, &b),
                    "case {case}: {a:?} vs {b:?} on {bytes:?}"
                );
                match a {
                    Ok(Some(f)) => assert!(f.len() <= max),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn a_cancelled_recv_loses_no_bytes() {
        let big = vec![3u8; 3 * RECV_CHUNK + 5];
        let frames: Vec<&[u8]> = vec![b"one", b"", &big, b"two"];
        let bytes = encode(&frames);
        // One byte per read and Pending before each: every recv future below is polled once and
        // dropped, mid-prefix and mid-body alike.
        let mut framed = FrameReader::new(Trickle::new(&bytes, true), 1 << 20);
        let mut got = Vec::new();
        for _ in 0..(bytes.len() * 4 + 16) {
            match framed.recv().now_or_never() {
                None => {}
                Some(Ok(Some(f))) => got.push(f),
                Some(Ok(None)) => break,
                Some(Err(e)) => panic!("recv failed: {e}"),
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn framed_split_halves_keep_buffered_bytes() {
        let bytes = encode(&[b"a", b"b"]);
        let mut framed = Framed::new(Cursor::new(bytes), 10);
        assert_eq!(
            block_on(framed.recv()).expect("a").as_deref(),
            Some(&b"a"[..])
        );
        let (mut r, mut w) = framed.split();
        assert_eq!(block_on(r.recv()).expect("b").as_deref(), Some(&b"b"[..]));
        assert!(matches!(block_on(r.recv()), Ok(None)));
        block_on(w.send(b"c")).expect("send");
    }
}
