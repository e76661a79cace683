import Foundation
import Synchronization

/// Keeps recently presented API keys in memory so a request costs no database read.
///
/// Entries (found and not-found alike, by the secret's SHA-256) live `lifetime` seconds;
/// a key revoked through this process is dropped at once, and other processes sharing a
/// PostgreSQL database stop accepting it within `lifetime`.
final class KeyCache: Sendable {
    private struct Entry {
        var value: (APIKey, User)?
        var fetched: Date
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let lifetime: TimeInterval
    private let capacity: Int

    init(lifetime: TimeInterval, capacity: Int = 100_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// `.some(nil)` is a remembered miss; nil means ask the store.
    func lookup(hash: String, now: Date = Date()) -> (APIKey, User)?? {
        entries.withLock { entries in
            guard let entry = entries[hash], now.timeIntervalSince(entry.fetched) < lifetime else { return nil }
            return .some(entry.value)
        }
    }

    func store(hash: String, _ value: (APIKey, User)?, now: Date = Date()) {
        entries.withLock { entries in
            if entries.count >= capacity { entries = entries.filter { now.timeIntervalSince($0.value.fetched) < lifetime } }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(value: value, fetched: now)
        }
    }

    /// Forgets every entry of a key (after revoke, rotate, update) or of a user.
    func invalidate(keyID: String? = nil, userID: String? = nil) {
        entries.withLock { entries in
            entries = entries.filter { _, entry in
                guard let (key, user) = entry.value else { return true }
                return key.id != keyID && user.id != userID
            }
        }
    }
}
