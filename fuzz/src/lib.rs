//! Helpers shared by the fuzz targets in `fuzz_targets/`.

/// Splits `data` into chunks whose sizes are chosen by `sizes` (cycled; a size of 0 counts as 1),
/// so that a streaming decoder sees the same bytes under many different read boundaries.
pub fn chunks<'a>(data: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = data;
    let mut i = 0usize;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(u8::MAX);
        i = i.wrapping_add(1);
        let (head, tail) = rest.split_at(usize::from(size.max(1)).min(rest.len()));
        rest = tail;
        Some(head)
    })
}
