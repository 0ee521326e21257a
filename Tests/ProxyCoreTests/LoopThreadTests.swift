import Glibc
import ProxyCore
import Testing

/// "Loop thread only" is checked: in a debug build (the tests'), loop-only
/// code entered from a thread that neither made nor runs a loop traps.
@Suite("Loop affinity")
struct LoopThreadTests {
    @Test func aThreadIsALoopThreadOnceMarked() throws {
        var before = true, after = false
        let t = try startThread {
            before = LoopThread.isCurrent
            LoopThread.mark()
            after = LoopThread.isCurrent
        }
        pthread_join(t, nil)
        #expect(before == false && after == true)
    }

    @Test func aCheckOffTheLoopTrapsInADebugBuild() async {
        await #expect(processExitsWith: .failure) {
            var t = pthread_t()  // a thread of its own: the test runner's threads may have run a loop
            pthread_create(&t, nil, { _ in LoopThread.check(); return nil }, nil)
            pthread_join(t, nil)
        }
        await #expect(processExitsWith: .success) {
            var t = pthread_t()
            pthread_create(&t, nil, { _ in LoopThread.mark(); LoopThread.check(); return nil }, nil)
            pthread_join(t, nil)
        }
    }
}
