import Synchronization

/// Observed health of upstream endpoints (0G providers, and the proxy's other backends):
/// a latency average for ranking and a circuit breaker that benches an endpoint after
/// repeated failures.
///
/// Synchronous and lock-protected, because it is read on every request to rank candidates.
public final class HealthTracker<Key: Hashable & Sendable>: Sendable {
    public struct Configuration: Sendable {
        /// Consecutive failures that open the circuit.
        public var failureThreshold: Int
        /// How long an open circuit benches the endpoint before one trial request.
        public var cooldown: Duration
        /// Weight of the newest latency in the moving average (0…1).
        public var smoothing: Double

        public init(failureThreshold: Int = 3, cooldown: Duration = .seconds(30), smoothing: Double = 0.2) {
            self.failureThreshold = failureThreshold
            self.cooldown = cooldown
            self.smoothing = smoothing
        }
    }

    /// What is known of one endpoint.
    public struct Snapshot: Sendable, Hashable {
        /// Average time to first byte of successful requests, in milliseconds.
        public var latencyMillis: Double?
        public var consecutiveFailures = 0
        public var successes = 0
        public var failures = 0
        /// Set while the circuit is open.
        public var benchedUntil: ContinuousClock.Instant?
        public var lastError: String?

        @inlinable public init() {}

        @inlinable public func isBenched(at now: ContinuousClock.Instant) -> Bool {
            guard let until = benchedUntil else { return false }
            return now < until
        }
    }

    public let configuration: Configuration
    // Reachable from inlinable code: the per-request calls are specialised in the caller's
    // module, not run through generic metadata.
    @usableFromInline let state = Mutex<[Key: Snapshot]>([:])

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Records a success; returns true when the key was new or had been failing (so a health
    /// gauge needs setting; it stays as it was otherwise).
    @discardableResult @inlinable
    public func recordSuccess(_ key: Key, latency: Duration) -> Bool {
        let millis = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
        let smoothing = configuration.smoothing
        return state.withLock { all in
            let isNew = all[key] == nil
            func update(_ entry: inout Snapshot) -> Bool {
                let wasFailing = entry.consecutiveFailures > 0 || entry.benchedUntil != nil
                entry.latencyMillis = entry.latencyMillis.map { $0 + smoothing * (millis - $0) } ?? millis
                entry.consecutiveFailures = 0
                entry.successes += 1
                entry.benchedUntil = nil
                return wasFailing
            }
            return update(&all[key, default: Snapshot()]) || isNew
        }
    }

    /// Records a failure; returns true when this failure opened the circuit.
    @discardableResult
    public func recordFailure(_ key: Key, reason: String) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { all in
            var entry = all[key] ?? Snapshot()
            entry.consecutiveFailures += 1
            entry.failures += 1
            entry.lastError = reason
            var opened = false
            if entry.consecutiveFailures >= configuration.failureThreshold {
                opened = !entry.isBenched(at: now)
                entry.benchedUntil = now + configuration.cooldown
            }
            all[key] = entry
            return opened
        }
    }

    public func snapshot(_ key: Key) -> Snapshot { state.withLock { $0[key] ?? Snapshot() } }

    @inlinable public func isBenched(_ key: Key) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { $0[key]?.isBenched(at: now) ?? false }
    }

    /// Orders candidates: endpoints with a closed circuit first, then by observed latency
    /// (unknown latency counts as the average of the known ones), keeping the given order
    /// (for example by price) among equals.
    public func rank<T>(_ candidates: [T], key: (T) -> Key) -> [T] {
        guard candidates.count > 1 else { return candidates }
        let now = ContinuousClock.now
        let snapshots = state.withLock { all in candidates.map { all[key($0)] ?? Snapshot() } }
        let known = snapshots.compactMap(\.latencyMillis)
        let typical = known.isEmpty ? 0 : known.reduce(0, +) / Double(known.count)
        return candidates.indices.sorted { a, b in
            let benchedA = snapshots[a].isBenched(at: now)
            let benchedB = snapshots[b].isBenched(at: now)
            if benchedA != benchedB { return !benchedA }
            let latencyA = snapshots[a].latencyMillis ?? typical
            let latencyB = snapshots[b].latencyMillis ?? typical
            // Latencies within 20 % are a tie, so price decides.
            if abs(latencyA - latencyB) > 0.2 * max(latencyA, latencyB) { return latencyA < latencyB }
            return a < b
        }.map { candidates[$0] }
    }
}
