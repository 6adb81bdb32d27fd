//! The terminal's repeated-request cache: the last requests served and the replies sent, so
//! that a retransmission (the same frame again: Q/GDW 1376.1-2013 §4.3.4.5 keeps PSEQ, and a
//! retransmission also keeps Tp and PW) is answered with the same reply instead of being
//! executed twice — also when several requests are in flight and their retransmissions
//! interleave.
//!
//! Entries live in one byte array of `N` bytes, oldest first, each `request length (u16 LE) ‖
//! reply length (u16 LE) ‖ request ‖ reply`: an entry costs 4 bytes plus its two frames (an
//! AFN 0C read of two items with its reply is about 110 bytes). When a new entry does not fit,
//! the oldest are dropped; an exchange larger than `N` is not cached (its retransmission is
//! served again).

/// Bytes of an entry's header.
const HEAD: usize = 4;

/// The last exchanges that fit in `N` bytes.
#[derive(Debug, Clone)]
pub(crate) struct RepeatCache<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> RepeatCache<N> {
    pub(crate) const fn new() -> Self {
        RepeatCache {
            buf: [0; N],
            len: 0,
        }
    }

    /// The entries, oldest first: `(request, reply)`.
    fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut rest = self.buf.get(..self.len).unwrap_or(&[]);
        core::iter::from_fn(move || {
            let (&[q0, q1, r0, r1], body) = rest.split_first_chunk::<HEAD>()?;
            let req = usize::from(u16::from_le_bytes([q0, q1]));
            let rep = usize::from(u16::from_le_bytes([r0, r1]));
            let (request, body) = body.split_at_checked(req)?;
            let (reply, body) = body.split_at_checked(rep)?;
            rest = body;
            Some((request, reply))
        })
    }

    /// The reply sent to a request with exactly these bytes (the newest, if several).
    pub(crate) fn lookup(&self, request: &[u8]) -> Option<&[u8]> {
        self.entries()
            .filter(|(q, _)| *q == request)
            .last()
            .map(|(_, r)| r)
    }

    /// Remembers `reply` as the answer to `request`, dropping the oldest entries to make room.
    /// Nothing is remembered when the pair alone does not fit (or a length exceeds 65 535).
    pub(crate) fn insert(&mut self, request: &[u8], reply: &[u8]) {
        let need = HEAD + request.len() + reply.len();
        let (Ok(q), Ok(r)) = (u16::try_from(request.len()), u16::try_from(reply.len())) else {
            return;
        };
        if need > N {
            return;
        }
        // Drop the oldest entries until the new one fits.
        let mut drop = 0usize;
        {
            let mut sizes = self.entries().map(|(q, r)| HEAD + q.len() + r.len());
            while self.len - drop + need > N {
                match sizes.next() {
                    Some(s) => drop += s,
                    None => {
                        drop = self.len;
                        break;
                    }
                }
            }
        }
        if drop > 0 {
            self.buf.copy_within(drop..self.len, 0);
            self.len -= drop;
        }
        let Some(dst) = self.buf.get_mut(self.len..self.len + need) else {
            return;
        };
        let (head, body) = dst.split_at_mut(HEAD);
        let ([q0, q1], [r0, r1]) = (q.to_le_bytes(), r.to_le_bytes());
        head.copy_from_slice(&[q0, q1, r0, r1]);
        let (dq, dr) = body.split_at_mut(request.len());
        dq.copy_from_slice(request);
        dr.copy_from_slice(reply);
        self.len += need;
    }

    /// Number of exchanges remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_exchanges_that_fit() {
        let mut c = RepeatCache::<40>::new();
        c.insert(b"req-a", b"reply-a"); // 16 bytes
        c.insert(b"req-b", b"reply-b"); // 32
        assert_eq!(c.lookup(b"req-a"), Some(&b"reply-a"[..]));
        assert_eq!(c.lookup(b"req-b"), Some(&b"reply-b"[..]));
        assert_eq!(c.lookup(b"req-c"), None);
        // A third does not fit: the oldest goes.
        c.insert(b"req-c", b"reply-c");
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup(b"req-a"), None);
        assert_eq!(c.lookup(b"req-b"), Some(&b"reply-b"[..]));
        assert_eq!(c.lookup(b"req-c"), Some(&b"reply-c"[..]));
        // Too large alone: not cached, nothing dropped.
        c.insert(&[1; 30], &[2; 10]);
        assert_eq!(c.len(), 2);
        // Exactly the capacity: everything else goes.
        c.insert(&[1; 30], &[2; 6]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(&[1; 30]), Some(&[2u8; 6][..]));
        let mut none = RepeatCache::<0>::new();
        none.insert(b"", b"");
        assert_eq!(none.lookup(b""), None);
    }
}
