//! The runtime's own counters, beside the engine's (ARCHITECTURE.md,
//! "The runtime and the facade").

/// What the runtime counted (the engine counts the protocol in
/// [`Stats`](shoutnet_engine::Stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetStats {
    /// Connections accepted by the listeners (before the engine's
    /// admission limits).
    pub accepted: u64,
    /// Dials started.
    pub dials: u64,
    /// Dials that did not connect.
    pub dials_failed: u64,
    /// Connections whose secure channel failed (a bad handshake, a
    /// message that does not decrypt).
    pub channel_failures: u64,
    /// Connections whose socket failed.
    pub io_errors: u64,
    /// Transmissions handed to connection tasks.
    pub transmissions: u64,
    /// Transmissions for connections already ending.
    pub transmissions_dropped: u64,
    /// Events dropped because the application did not read them and
    /// their queue was full.
    pub events_dropped: u64,
    /// `CUSTOM` requests without a request id dropped because
    /// [`MAX_UNANSWERED_HANDLERS`](crate::MAX_UNANSWERED_HANDLERS) handler
    /// calls for such requests were running already.
    pub customs_dropped: u64,
}
