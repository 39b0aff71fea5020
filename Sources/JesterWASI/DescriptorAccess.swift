/// Which of the guest's descriptors may modify what they refer to.
///
/// Mirrors WasmKit's descriptor table: stdio and the preopens at creation, then every successful
/// `path_open` (which inherits the access of its directory), `fd_close` and `fd_renumber`. A
/// descriptor missing here is treated as closed, so a gap in the mirror refuses rather than allows.
/// Descriptors below 64 — all of them in ordinary programs — are two bit masks, so the check on a
/// hot path is a shift and a mask.
struct DescriptorAccess {
    enum Access: Equatable {
        /// Derived from a read-only preopen: reads only.
        case readOnly
        /// Stdio, or derived from a writable preopen.
        case writable
    }

    private var lowOpen: UInt64 = 0
    private var lowWritable: UInt64 = 0
    private var high: [UInt32: Access] = [:]

    subscript(fd: UInt32) -> Access? {
        get {
            if fd < 64 {
                let bit: UInt64 = 1 << UInt64(fd)
                guard lowOpen & bit != 0 else { return nil }
                return lowWritable & bit != 0 ? .writable : .readOnly
            }
            return high[fd]
        }
        set {
            if fd < 64 {
                let bit: UInt64 = 1 << UInt64(fd)
                switch newValue {
                case nil:
                    lowOpen &= ~bit
                    lowWritable &= ~bit
                case .readOnly:
                    lowOpen |= bit
                    lowWritable &= ~bit
                case .writable:
                    lowOpen |= bit
                    lowWritable |= bit
                }
            } else {
                high[fd] = newValue
            }
        }
    }

    /// Forgets every descriptor.
    mutating func removeAll() {
        self = DescriptorAccess()
    }
}
