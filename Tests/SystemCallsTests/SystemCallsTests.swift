import CLinux
import Glibc
import XCTest
import SystemCalls

final class FileDescriptorTests: XCTestCase {
    /// Whether `fd` is an open descriptor of this process.
    private func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    func testCloseClosesOnceAndMarksTheOwnerClosed() throws {
        let descriptor = FileDescriptor(taking: try Linux.eventfdCreate())
        let number = descriptor.number
        XCTAssertTrue(descriptor.isOpen)
        XCTAssertTrue(isOpen(number))
        descriptor.close()
        XCTAssertFalse(descriptor.isOpen)
        XCTAssertFalse(isOpen(number))
        XCTAssertEqual(descriptor.number, number, "the number stays, for identity")
    }

    func testAnOwnerFreedWithoutClosingClosesItsDescriptor() throws {
        var number: Int32 = -1
        do {
            let descriptor = FileDescriptor(taking: try Linux.eventfdCreate())
            number = descriptor.number
            XCTAssertTrue(isOpen(number))
        }
        XCTAssertFalse(isOpen(number))
    }

    func testWithDescriptorLendsTheOpenDescriptor() throws {
        let descriptor = FileDescriptor(taking: try Linux.eventfdCreate())
        defer { descriptor.close() }
        XCTAssertEqual(descriptor.withDescriptor { $0 }, descriptor.number)
    }
}

final class SystemCallTests: XCTestCase {
    func testEventfdCountsWritesAndAnEmptyOneWouldBlock() throws {
        let eventfd = FileDescriptor(taking: try Linux.eventfdCreate())
        defer { eventfd.close() }
        try eventfd.withDescriptor { fd throws(SystemCallError) in
            guard case .wouldBlock = try Linux.eventfdRead(fd) else { return XCTFail("an empty eventfd would block") }
            try Linux.eventfdWrite(fd, 1)
            try Linux.eventfdWrite(fd, 2)
            guard case .processed(let value) = try Linux.eventfdRead(fd) else { return XCTFail("a written eventfd reads") }
            XCTAssertEqual(value, 3)
        }
    }

    func testEpollReportsAReadableEventfdAndTimesOutOtherwise() throws {
        let epoll = FileDescriptor(taking: try Linux.epollCreate())
        let eventfd = FileDescriptor(taking: try Linux.eventfdCreate())
        defer {
            epoll.close()
            eventfd.close()
        }
        var events = [epoll_event](repeating: epoll_event(), count: 4)
        try epoll.withDescriptor { ep throws(SystemCallError) in
            try Linux.epollControl(ep, EPOLL_CTL_ADD, descriptor: eventfd.number, events: EPOLLIN.rawValue)
            let none = try events.withUnsafeMutableBufferPointer { buffer throws(SystemCallError) in
                try Linux.epollWait(ep, events: buffer, timeoutMilliseconds: 0)
            }
            XCTAssertEqual(none, 0)
            try eventfd.withDescriptor { fd throws(SystemCallError) in _ = try Linux.eventfdWrite(fd, 1) }
            let one = try events.withUnsafeMutableBufferPointer { buffer throws(SystemCallError) in
                try Linux.epollWait(ep, events: buffer, timeoutMilliseconds: 1000)
            }
            XCTAssertEqual(one, 1)
            XCTAssertEqual(events[0].data.fd, eventfd.number)
        }
    }

    /// A real failure throws with the call's name, `errno` and the C library's words, and the context given.
    func testAFailedCallThrowsWithTheCallsNameErrnoAndMessage() throws {
        let first = FileDescriptor(taking: try Posix.socket(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue)))
        let second = FileDescriptor(taking: try Posix.socket(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue)))
        defer {
            first.close()
            second.close()
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bindTo = { (socket: FileDescriptor, address: inout sockaddr_in) throws(SystemCallError) in
            try socket.withDescriptor { fd throws(SystemCallError) in
                try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SystemCallError) in
                        try Posix.bind(fd, address: raw, length: socklen_t(MemoryLayout<sockaddr_in>.size), description: "127.0.0.1")
                    }
                }
            }
        }
        try bindTo(first, &address)
        try first.withDescriptor { fd throws(SystemCallError) in try Posix.listen(fd, backlog: 1) }
        let bound = try first.withDescriptor { fd throws(SystemCallError) in try Posix.localAddress(fd) }
        address.sin_port = withUnsafeBytes(of: bound) { $0.load(as: sockaddr_in.self).sin_port }
        XCTAssertThrowsError(try bindTo(second, &address)) { error in
            let failure = error as? SystemCallError
            XCTAssertEqual(failure?.function, "bind")
            XCTAssertEqual(failure?.errno, EADDRINUSE)
            XCTAssertEqual(failure?.description, "bind 127.0.0.1: \(String(cString: strerror(EADDRINUSE)))")
        }
    }

    func testAcceptWithNothingPendingIsNil() throws {
        let listener = FileDescriptor(taking: try Posix.socket(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue)))
        defer { listener.close() }
        try listener.withDescriptor { fd throws(SystemCallError) in
            try Posix.listen(fd, backlog: 1)
            XCTAssertNil(try Posix.accept(fd))
        }
    }
}
