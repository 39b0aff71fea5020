@_spi(WASIPlatform) import WASI

/// Shared behaviour of the session's standard streams: character devices that are borrowed (WASI
/// never closes them), cannot seek and have no host descriptor.
protocol StandardStream: WASIFile {
    /// The rights `fd_fdstat_get` reports.
    var rights: WASIAbi.Rights { get }
}

extension StandardStream {
    var isBorrowed: Bool { true }

    func attributes() throws -> WASIAbi.Filestat {
        WASIAbi.Filestat(dev: 0, ino: 0, filetype: .CHARACTER_DEVICE, nlink: 0, size: 0, atim: 0, mtim: 0, ctim: 0)
    }

    func fileType() throws -> WASIAbi.FileType { .CHARACTER_DEVICE }
    func status() throws -> WASIAbi.Fdflags { [] }

    func fdStat() throws -> WASIAbi.FdStat {
        WASIAbi.FdStat(fsFileType: .CHARACTER_DEVICE, fsFlags: [], fsRightsBase: rights, fsRightsInheriting: [])
    }

    func setTimes(atim: WASIAbi.Timestamp, mtim: WASIAbi.Timestamp, fstFlags: WASIAbi.FstFlags) throws {
        throw WASIAbi.Errno.ENOTSUP
    }

    func advise(offset: WASIAbi.FileSize, length: WASIAbi.FileSize, advice: WASIAbi.Advice) throws {}
    func close() throws {}
    func setFdStatFlags(_ flags: WASIAbi.Fdflags) throws { throw WASIAbi.Errno.ENOTSUP }
    func setFilestatSize(_ size: WASIAbi.FileSize) throws { throw WASIAbi.Errno.EINVAL }
    func sync() throws {}
    func datasync() throws {}
    func tell() throws -> WASIAbi.FileSize { throw WASIAbi.Errno.ESPIPE }

    func seek(offset: WASIAbi.FileDelta, whence: WASIAbi.Whence) throws -> WASIAbi.FileSize {
        throw WASIAbi.Errno.ESPIPE
    }

    func pwrite(vectored buffers: GuestBuffers, offset: WASIAbi.FileSize) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.ESPIPE
    }

    func pread(into buffers: GuestBuffers, offset: WASIAbi.FileSize) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.ESPIPE
    }
}

/// fd 0: the bytes of ``WASISession/stdin``, then end of file.
struct StandardInputFile: StandardStream {
    let source: StandardInput

    var rights: WASIAbi.Rights { [.FD_READ] }

    func write(vectored buffers: GuestBuffers) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.EBADF
    }

    func read(into buffers: GuestBuffers) throws -> WASIAbi.Size {
        var total = 0
        for index in 0..<buffers.count {
            let count = try buffers.withHostBuffer(at: index) { source.read(into: $0) }
            total += count
            if count == 0 { break }
        }
        return WASIAbi.Size(clamping: total)
    }
}

/// fd 1 and 2: lines for the session's output handler.
struct CapturedOutputFile: StandardStream {
    let capture: OutputCapture
    let stream: WASIStream

    var rights: WASIAbi.Rights { [.FD_WRITE] }

    func write(vectored buffers: GuestBuffers) throws -> WASIAbi.Size {
        var total = 0
        for index in 0..<buffers.count {
            total += try buffers.withHostBuffer(at: index) { buffer in
                capture.append(UnsafeRawBufferPointer(buffer), to: stream)
                return buffer.count
            }
        }
        return WASIAbi.Size(clamping: total)
    }

    func read(into buffers: GuestBuffers) throws -> WASIAbi.Size {
        throw WASIAbi.Errno.EBADF
    }
}
