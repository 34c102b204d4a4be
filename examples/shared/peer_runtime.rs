//! The runtime every peer example server (`examples/peer-*.rs`) runs on, chosen the way
//! `echo-server` chooses its own, so that the benchmarks compare like with like.

/// A current-thread runtime for `threads <= 1` (as the echo servers use for benchmarks), else a
/// multi-thread one with that many workers.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}
