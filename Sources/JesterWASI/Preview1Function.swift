@_spi(WASIPlatform) import WASI
import WasmKit

/// Every `wasi_snapshot_preview1` function, with its core signature.
enum Preview1Function: String, CaseIterable, Sendable {
    case argsGet = "args_get"
    case argsSizesGet = "args_sizes_get"
    case clockResGet = "clock_res_get"
    case clockTimeGet = "clock_time_get"
    case environGet = "environ_get"
    case environSizesGet = "environ_sizes_get"
    case fdAdvise = "fd_advise"
    case fdAllocate = "fd_allocate"
    case fdClose = "fd_close"
    case fdDatasync = "fd_datasync"
    case fdFdstatGet = "fd_fdstat_get"
    case fdFdstatSetFlags = "fd_fdstat_set_flags"
    case fdFdstatSetRights = "fd_fdstat_set_rights"
    case fdFilestatGet = "fd_filestat_get"
    case fdFilestatSetSize = "fd_filestat_set_size"
    case fdFilestatSetTimes = "fd_filestat_set_times"
    case fdPread = "fd_pread"
    case fdPrestatDirName = "fd_prestat_dir_name"
    case fdPrestatGet = "fd_prestat_get"
    case fdPwrite = "fd_pwrite"
    case fdRead = "fd_read"
    case fdReaddir = "fd_readdir"
    case fdRenumber = "fd_renumber"
    case fdSeek = "fd_seek"
    case fdSync = "fd_sync"
    case fdTell = "fd_tell"
    case fdWrite = "fd_write"
    case pathCreateDirectory = "path_create_directory"
    case pathFilestatGet = "path_filestat_get"
    case pathFilestatSetTimes = "path_filestat_set_times"
    case pathLink = "path_link"
    case pathOpen = "path_open"
    case pathReadlink = "path_readlink"
    case pathRemoveDirectory = "path_remove_directory"
    case pathRename = "path_rename"
    case pathSymlink = "path_symlink"
    case pathUnlinkFile = "path_unlink_file"
    case pollOneoff = "poll_oneoff"
    case procExit = "proc_exit"
    case procRaise = "proc_raise"
    case randomGet = "random_get"
    case schedYield = "sched_yield"
    case sockAccept = "sock_accept"
    case sockRecv = "sock_recv"
    case sockSend = "sock_send"
    case sockShutdown = "sock_shutdown"

    /// The import module every preview1 function lives in.
    static let moduleName = "wasi_snapshot_preview1"

    /// The names of all cases.
    static let allNames: Set<String> = Set(allCases.map(\.rawValue))

    /// The core WebAssembly signature of the function.
    var type: FunctionType {
        switch self {
        case .procExit:
            return FunctionType(parameters: [.i32], results: [])
        case .schedYield:
            return FunctionType(parameters: [], results: [.i32])
        default:
            return FunctionType(parameters: parameters, results: [.i32])
        }
    }

    /// Whether any parameter is a pointer into guest memory.
    var takesPointers: Bool {
        switch self {
        case .fdAdvise, .fdAllocate, .fdClose, .fdDatasync, .fdFdstatSetFlags, .fdFdstatSetRights,
            .fdFilestatSetSize, .fdFilestatSetTimes, .fdRenumber, .fdSync, .procExit, .procRaise,
            .schedYield, .sockShutdown:
            return false
        default:
            return true
        }
    }

    private var parameters: [ValueType] {
        switch self {
        case .fdClose, .fdDatasync, .fdSync, .procRaise, .procExit:
            return [.i32]
        case .schedYield:
            return []
        case .argsGet, .argsSizesGet, .clockResGet, .environGet, .environSizesGet, .fdFdstatGet,
            .fdFdstatSetFlags, .fdFilestatGet, .fdPrestatGet, .fdRenumber, .fdTell, .randomGet,
            .sockShutdown:
            return [.i32, .i32]
        case .clockTimeGet:
            return [.i32, .i64, .i32]
        case .fdAdvise:
            return [.i32, .i64, .i64, .i32]
        case .fdAllocate, .fdFdstatSetRights:
            return [.i32, .i64, .i64]
        case .fdFilestatSetSize:
            return [.i32, .i64]
        case .fdFilestatSetTimes:
            return [.i32, .i64, .i64, .i32]
        case .fdPread, .fdPwrite, .fdReaddir:
            return [.i32, .i32, .i32, .i64, .i32]
        case .fdPrestatDirName, .pathCreateDirectory, .pathRemoveDirectory, .pathUnlinkFile, .sockAccept:
            return [.i32, .i32, .i32]
        case .fdRead, .fdWrite, .pollOneoff:
            return [.i32, .i32, .i32, .i32]
        case .fdSeek:
            return [.i32, .i64, .i32, .i32]
        case .pathFilestatGet, .pathSymlink, .sockSend:
            return [.i32, .i32, .i32, .i32, .i32]
        case .pathFilestatSetTimes:
            return [.i32, .i32, .i32, .i32, .i64, .i64, .i32]
        case .pathLink:
            return [.i32, .i32, .i32, .i32, .i32, .i32, .i32]
        case .pathOpen:
            return [.i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32]
        case .pathReadlink, .pathRename, .sockRecv:
            return [.i32, .i32, .i32, .i32, .i32, .i32]
        }
    }
}

/// WASI ABI constants this layer needs beyond what `WASIAbi` names.
enum Preview1ABI {
    typealias Errno = WASIAbi.Errno
    typealias Rights = WASIAbi.Rights

    /// `lookupflags::symlink_follow`.
    static let symlinkFollow: UInt32 = 1 << 0
    /// `oflags::creat | oflags::excl | oflags::trunc`: opening with any of these modifies the tree.
    static let mutatingOpenFlags: UInt32 = WASIAbi.Oflags([.CREAT, .EXCL, .TRUNC]).rawValue
    /// `fdflags::append`.
    static let appendFlag: UInt32 = UInt32(WASIAbi.Fdflags.APPEND.rawValue)
    /// `filetype::symbolic_link`.
    static let symbolicLinkFileType: UInt8 = WASIAbi.FileType.SYMBOLIC_LINK.rawValue

    /// Rights a `path_open` under a read-only preopen may not ask for: they need a descriptor that
    /// can write. Path rights such as `path_create_file` are tolerated because Rust's standard
    /// library asks for all of them on every open; the calls they name are refused one by one.
    static let writeAccessRights: Rights = [.FD_WRITE, .FD_ALLOCATE, .FD_FILESTAT_SET_SIZE]

    /// Every right that names a call which modifies a file or a directory tree. Descriptors under
    /// a read-only preopen report their rights without these.
    static let mutatingRights: Rights = [
        .FD_DATASYNC, .FD_WRITE, .FD_ALLOCATE, .PATH_CREATE_DIRECTORY, .PATH_CREATE_FILE,
        .PATH_LINK_SOURCE, .PATH_LINK_TARGET, .PATH_RENAME_SOURCE, .PATH_RENAME_TARGET,
        .PATH_FILESTAT_SET_SIZE, .PATH_FILESTAT_SET_TIMES, .FD_FILESTAT_SET_SIZE,
        .FD_FILESTAT_SET_TIMES, .PATH_SYMLINK, .PATH_REMOVE_DIRECTORY, .PATH_UNLINK_FILE,
    ]

    /// The right `path_filestat_get` needs to stat through a symbolic link by opening it.
    static let filestatGetRight: Rights = .FD_FILESTAT_GET

    /// Sizes and alignments of the structures that cross the ABI.
    static let iovecSize: UInt64 = 8
    static let fdstatSize: UInt64 = 24
    static let filestatSize: UInt64 = 64
    static let prestatSize: UInt64 = 8
    static let subscriptionSize: UInt64 = 48
    static let eventSize: UInt64 = 32
    /// Offset of the `tag` byte of `subscription.u` inside a subscription.
    static let subscriptionTagOffset: Int = 8
    /// Offset of `filetype` inside a filestat.
    static let filestatFileTypeOffset: Int = 16
    /// Offsets of the two rights fields inside an fdstat.
    static let fdstatRightsBaseOffset: Int = 8
    static let fdstatRightsInheritingOffset: Int = 16
}

extension WASIAbi.Errno {
    /// The errno as the `i32` result a preview1 function returns.
    @inline(__always)
    var value: Value { .i32(UInt32(rawValue)) }
}
