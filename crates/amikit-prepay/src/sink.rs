//! Where the engine and the tracker put what they decide: a caller-provided sink.

/// Receives the outputs of [`Engine::handle`](crate::Engine::handle) or the events of the
/// [`Tracker`](crate::Tracker), in order.
///
/// Implemented for `heapless::Vec<T, N>` (no heap; see [`MAX_OUTPUTS`](crate::MAX_OUTPUTS) for
/// a capacity that one engine step never exceeds), for `alloc::vec::Vec<T>` (feature `alloc`)
/// and for closures wrapped in [`FnSink`].
pub trait Sink<T> {
    /// Takes one item.
    fn push(&mut self, item: T);
}

impl<T, const N: usize> Sink<T> for heapless::Vec<T, N> {
    /// Appends the item. When the vector is full the item is dropped: size the vector with
    /// [`MAX_OUTPUTS`](crate::MAX_OUTPUTS) for the engine (the fuzz target checks that one step
    /// stays below it) and clear it between steps.
    fn push(&mut self, item: T) {
        let _ = heapless::Vec::push(self, item);
    }
}

#[cfg(feature = "alloc")]
impl<T> Sink<T> for alloc::vec::Vec<T> {
    fn push(&mut self, item: T) {
        alloc::vec::Vec::push(self, item);
    }
}

/// A sink that calls a closure for every item.
#[derive(Debug, Clone, Copy)]
pub struct FnSink<F>(pub F);

impl<T, F: FnMut(T)> Sink<T> for FnSink<F> {
    fn push(&mut self, item: T) {
        (self.0)(item);
    }
}

/// A sink that counts items and drops them (benchmarks, fuzzing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountSink(pub usize);

impl<T> Sink<T> for CountSink {
    fn push(&mut self, _item: T) {
        self.0 = self.0.saturating_add(1);
    }
}
