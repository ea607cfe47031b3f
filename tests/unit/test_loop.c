/* test_loop.c - the loop on either backend ($IVCS_IO_BACKEND): connect,
 * send/recv, timeouts, cancel; the backend choice and io_uring fallback. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "engine/net/loop.h"
#include "no_io_uring.h"
#include "so_error_probe.h"

typedef struct {
    int done;
    int res;
} result;

static void on_done(ivcs_loop_op *op, int res)
{
    result *r = op->arg;
    r->done++;
    r->res = res;
}

static int run_until(ivcs_loop *l, result *r, int max_ms)
{
    uint64_t end = ivcs_loop_now_ms() + (uint64_t)max_ms;
    while (!r->done && ivcs_loop_now_ms() < end) ivcs_loop_run_once(l, 50);
    return r->done;
}

/* A listening socket on loopback of the given family; port in *port. */
static int listener(int family, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* Connects through the loop to host:port; returns the fd or -1. */
static int loop_connect(ivcs_loop *l, const char *host, uint16_t port, int *res_out)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    if (ivcs_loop_resolve(host, port, &addr, &alen) != 0) return -1;
    int fd = ivcs_loop_socket(&addr);
    if (fd < 0) return -1;
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    if (ivcs_loop_connect(l, &op, fd, &addr, alen, 2000) != 0) {
        close(fd);
        return -1;
    }
    run_until(l, &r, 3000);
    *res_out = r.res;
    if (r.res != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

TEST(resolve_numeric_and_names)
{
    struct sockaddr_storage a;
    socklen_t len;
    CHECK_EQ(ivcs_loop_resolve("127.0.0.1", 80, &a, &len), 0);
    CHECK_EQ(a.ss_family, AF_INET);
    CHECK_EQ(ntohs(((struct sockaddr_in *)&a)->sin_port), 80);
    CHECK_EQ(ivcs_loop_resolve("[::1]", 443, &a, &len), 0);
    CHECK_EQ(a.ss_family, AF_INET6);
    CHECK_EQ(ivcs_loop_resolve("localhost", 443, &a, &len), 0);
    CHECK_EQ(ivcs_loop_resolve("no-such-host.invalid", 443, &a, &len), IVCS_ERR_RESOLVE);
}

TEST(connect_send_recv_ipv4)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    uint16_t port;
    int lfd = listener(AF_INET, &port);
    CHECK(lfd >= 0);
    int res = 1;
    int fd = loop_connect(l, "127.0.0.1", port, &res);
    CHECK_EQ(res, 0);
    CHECK(fd >= 0);
    int sfd = accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);

    char msg[100000];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)(i * 7);
    size_t sent = 0;
    while (sent < sizeof msg) {
        result r = {0, 0};
        ivcs_loop_op op = {.cb = on_done, .arg = &r};
        CHECK_EQ(ivcs_loop_send(l, &op, fd, msg + sent, sizeof msg - sent, 1000), 0);
        CHECK(run_until(l, &r, 2000));
        CHECK(r.res > 0);
        if (r.res <= 0) break;
        sent += (size_t)r.res;
        /* Drain on the server side so the socket buffers never fill. */
        char tmp[65536];
        (void)!recv(sfd, tmp, sizeof tmp, MSG_DONTWAIT);
    }
    CHECK_EQ(sent, sizeof msg);

    (void)!write(sfd, "pong", 4);
    char buf[16];
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    CHECK_EQ(ivcs_loop_recv(l, &op, fd, buf, sizeof buf, 1000), 0);
    CHECK(run_until(l, &r, 2000));
    CHECK_EQ(r.res, 4);
    CHECK(!memcmp(buf, "pong", 4));
    CHECK_EQ(ivcs_loop_pending(l), 0);

    /* The peer closing shows as a 0-byte receive (shutdown, not close:
     * closing with unread bytes would send a reset). */
    shutdown(sfd, SHUT_WR);
    r.done = 0;
    CHECK_EQ(ivcs_loop_recv(l, &op, fd, buf, sizeof buf, 1000), 0);
    CHECK(run_until(l, &r, 2000));
    CHECK_EQ(r.res, 0);
    close(sfd);
    close(fd);
    close(lfd);
    ivcs_loop_destroy(l);
}

TEST(connect_ipv6_and_hostname)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, NULL, 8), 0);
    uint16_t port;
    int lfd = listener(AF_INET6, &port);
    if (lfd < 0) {
        fprintf(stderr, "  (no IPv6 loopback: skipped)\n");
        ivcs_loop_destroy(l);
        return;
    }
    int res = 1;
    int fd = loop_connect(l, "::1", port, &res);
    CHECK_EQ(res, 0);
    if (fd >= 0) close(fd);
    close(lfd);

    lfd = listener(AF_INET, &port);
    /* "localhost" may resolve to ::1 first; listen on v4 and accept either
     * result as long as a v4 connect by name works somewhere. */
    struct sockaddr_storage a;
    socklen_t alen;
    CHECK_EQ(ivcs_loop_resolve("localhost", port, &a, &alen), 0);
    if (a.ss_family == AF_INET) {
        fd = loop_connect(l, "localhost", port, &res);
        CHECK_EQ(res, 0);
        if (fd >= 0) close(fd);
    }
    close(lfd);
    ivcs_loop_destroy(l);
}

TEST(connect_refused_is_clean)
{
    if (!so_error_is_native("connect_refused_is_clean")) return;
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    uint16_t port;
    int lfd = listener(AF_INET, &port);
    close(lfd); /* nothing listens there now */
    int res = 0;
    int fd = loop_connect(l, "127.0.0.1", port, &res);
    CHECK_EQ(fd, -1);
    CHECK_EQ(res, IVCS_ERR_CONNECT);
    ivcs_loop_destroy(l);
}

TEST(recv_timeout_fires)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char buf[8];
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    uint64_t t0 = ivcs_loop_now_ms();
    CHECK_EQ(ivcs_loop_recv(l, &op, sv[0], buf, sizeof buf, 100), 0);
    CHECK(run_until(l, &r, 3000));
    uint64_t dt = ivcs_loop_now_ms() - t0;
    CHECK_EQ(r.res, IVCS_ERR_TIMEOUT);
    CHECK(dt >= 90 && dt < 2000);
    /* The linked timeout's own completion must not be delivered as an op. */
    for (int i = 0; i < 3; i++) ivcs_loop_run_once(l, 10);
    CHECK_EQ(r.done, 1);
    CHECK_EQ(ivcs_loop_pending(l), 0);
    close(sv[0]);
    close(sv[1]);
    ivcs_loop_destroy(l);
}

TEST(cancel_pending_recv)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char buf[8];
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    CHECK_EQ(ivcs_loop_recv(l, &op, sv[0], buf, sizeof buf, 0), 0);
    ivcs_loop_run_once(l, 0);
    CHECK_EQ(r.done, 0);
    CHECK_EQ(ivcs_loop_cancel(l, &op), 0);
    CHECK(run_until(l, &r, 2000));
    CHECK_EQ(r.res, IVCS_ERR_CANCELLED);
    CHECK_EQ(ivcs_loop_pending(l), 0);
    close(sv[0]);
    close(sv[1]);
    ivcs_loop_destroy(l);
}

TEST(timer_fires_after_delay)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    result r = {0, -1};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    uint64_t t0 = ivcs_loop_now_ms();
    CHECK_EQ(ivcs_loop_timer(l, &op, 60), 0);
    CHECK(run_until(l, &r, 2000));
    CHECK_EQ(r.res, 0);
    CHECK(ivcs_loop_now_ms() - t0 >= 55);
    /* A cancelled timer reports the cancel. */
    r.done = 0;
    CHECK_EQ(ivcs_loop_timer(l, &op, 5000), 0);
    ivcs_loop_run_once(l, 0);
    CHECK_EQ(ivcs_loop_cancel(l, &op), 0);
    CHECK(run_until(l, &r, 2000));
    CHECK_EQ(r.res, IVCS_ERR_CANCELLED);
    ivcs_loop_destroy(l);
}

TEST(bad_arguments)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    ivcs_loop_op op = {0};
    char b[1];
    CHECK_EQ(ivcs_loop_recv(l, &op, 0, b, 1, 0), IVCS_ERR_INVALID_ARG); /* no callback */
    CHECK_EQ(ivcs_loop_new(NULL, NULL, 0), IVCS_ERR_INVALID_ARG);
    ivcs_loop_destroy(l);
}

TEST(uring_refusal_policy)
{
    static const struct {
        int err;
        const char *name;
    } absent[] = {{EPERM, "EPERM"}, {ENOSYS, "ENOSYS"}, {EOPNOTSUPP, "EOPNOTSUPP"},
                  {ENOMEM, "ENOMEM"}};
    char note[IVCS_IO_NOTE_MAX];
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        CHECK_EQ(ivcs_loop_uring_refusal(absent[i].err, 0, note, sizeof note), 1);
        CHECK(strstr(note, absent[i].name) != NULL);
        CHECK(strstr(note, "using epoll") != NULL);
        CHECK_EQ(ivcs_loop_uring_refusal(absent[i].err, 1, note, sizeof note), 1);
        CHECK(strstr(note, absent[i].name) != NULL);
        CHECK(strstr(note, "set io_backend to epoll or auto") != NULL);
    }
    char *n = note;
    CHECK_EQ(ivcs_loop_uring_refusal(EPERM, 1, n, sizeof note), 1);
    CHECK(strstr(note, "io_uring_setup refused (EPERM): blocked by a seccomp profile") == note);
    /* Not io_uring's absence: no fallback, the loop fails with the errno. */
    CHECK_EQ(ivcs_loop_uring_refusal(EMFILE, 0, note, sizeof note), 0);
    CHECK(strstr(note, strerror(EMFILE)) != NULL);
    CHECK_EQ(ivcs_loop_uring_refusal(EPERM, 0, NULL, 0), 1);
}

/* Runs fn in a child with io_uring_setup refused with err; its exit
 * status (0: all checks passed). */
static int in_child_without_io_uring(int err, int (*fn)(int err))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (ivcs_test_refuse_io_uring(err) < 0) _exit(90);
        _exit(fn(err));
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 99;
    return WEXITSTATUS(st);
}

static int refused_child(int err)
{
    unsetenv("IVCS_IO_BACKEND");
    /* auto (and the plain constructor): epoll, with the reason kept */
    ivcs_loop *l = NULL;
    if (ivcs_loop_new(&l, NULL, 0) != 0) return 1;
    if (ivcs_loop_backend(l) != IVCS_IO_EPOLL) return 2;
    if (!strstr(ivcs_loop_note(l), "using epoll")) return 3;
    if (strcmp(ivcs_loop_note(l), ivcs_io_backend_note()) != 0) return 4;
    /* and it works: a timer fires */
    result r = {0, -1};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    if (ivcs_loop_timer(l, &op, 5) != 0 || !run_until(l, &r, 2000) || r.res != 0) return 5;
    ivcs_loop_destroy(l);
    /* forced io_uring: its own code and the cause, never "unsupported" */
    l = NULL;
    int rc = ivcs_loop_new_backend(&l, NULL, 0, IVCS_IO_URING);
    if (rc != IVCS_ERR_IO_BACKEND || l) return 6;
    const char *why = ivcs_io_backend_note();
    if (err == EPERM && !strstr(why, "io_uring_setup refused (EPERM)")) return 7;
    if (err == ENOSYS && !strstr(why, "(ENOSYS)")) return 8;
    if (!strstr(why, "set io_backend to epoll or auto")) return 9;
    /* IVCS_IO_BACKEND=epoll overrides a forced io_uring */
    setenv("IVCS_IO_BACKEND", "epoll", 1);
    if (ivcs_loop_new_backend(&l, NULL, 0, IVCS_IO_URING) != 0) return 10;
    if (ivcs_loop_backend(l) != IVCS_IO_EPOLL) return 11;
    ivcs_loop_destroy(l);
    return 0;
}

TEST(io_uring_refused_falls_back_to_epoll)
{
    if (!ivcs_test_seccomp_usable("io_uring_refused_falls_back_to_epoll")) return;
    CHECK_EQ(in_child_without_io_uring(EPERM, refused_child), 0);
    CHECK_EQ(in_child_without_io_uring(ENOSYS, refused_child), 0);
}

TEST(backend_choice_and_env)
{
    const char *env = getenv("IVCS_IO_BACKEND");
    char saved[32] = "";
    if (env) snprintf(saved, sizeof saved, "%s", env);
    ivcs_loop *l = NULL;
    unsetenv("IVCS_IO_BACKEND");
    CHECK_EQ(ivcs_loop_new_backend(&l, &check_alloc, 0, IVCS_IO_EPOLL), 0);
    CHECK_EQ(ivcs_loop_backend(l), IVCS_IO_EPOLL);
    ivcs_loop_destroy(l);
    CHECK_EQ(ivcs_loop_new_backend(&l, &check_alloc, 0, 7), IVCS_ERR_CONFIG);
    setenv("IVCS_IO_BACKEND", "kqueue", 1);
    CHECK_EQ(ivcs_loop_new_backend(&l, &check_alloc, 0, IVCS_IO_AUTO), IVCS_ERR_CONFIG);
    CHECK(strstr(ivcs_io_backend_note(), "IVCS_IO_BACKEND") != NULL);
    setenv("IVCS_IO_BACKEND", "epoll", 1);
    CHECK_EQ(ivcs_loop_new_backend(&l, &check_alloc, 0, IVCS_IO_AUTO), 0);
    CHECK_EQ(ivcs_loop_backend(l), IVCS_IO_EPOLL);
    CHECK(strstr(ivcs_loop_note(l), "IVCS_IO_BACKEND") != NULL);
    ivcs_loop_destroy(l);
    CHECK(!strcmp(ivcs_io_backend_name(IVCS_IO_URING), "io_uring"));
    CHECK(!strcmp(ivcs_io_backend_name(IVCS_IO_AUTO), "auto"));
    CHECK(!strcmp(ivcs_io_backend_name(-1), "?"));
    if (saved[0]) setenv("IVCS_IO_BACKEND", saved, 1);
    else unsetenv("IVCS_IO_BACKEND");
}

/* Send and receive in flight on one socket at once (the HTTP client's
 * pattern), the send parked on a full socket buffer until the peer reads. */
TEST(send_and_recv_together_on_a_full_socket)
{
    ivcs_loop *l;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static char big[1 << 20];
    result rs = {0, 0}, rr = {0, 0};
    ivcs_loop_op os = {.cb = on_done, .arg = &rs}, orr = {.cb = on_done, .arg = &rr};
    char in[8];
    CHECK_EQ(ivcs_loop_recv(l, &orr, sv[0], in, sizeof in, 3000), 0);
    size_t sent = 0;
    int rounds = 0;
    /* fill the buffer: a send then waits for room */
    while (rounds++ < 64) {
        rs.done = 0;
        CHECK_EQ(ivcs_loop_send(l, &os, sv[0], big, sizeof big, 3000), 0);
        run_until(l, &rs, 200);
        if (!rs.done) break;
        CHECK(rs.res > 0);
        sent += (size_t)(rs.res > 0 ? rs.res : 0);
    }
    CHECK(sent > 0);
    CHECK_EQ(rs.done, 0);
    CHECK_EQ(ivcs_loop_pending(l), 2);
    /* the peer drains some and answers: both complete */
    static char sink[1 << 16];
    while (recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    (void)!write(sv[1], "ok", 2);
    uint64_t end = ivcs_loop_now_ms() + 3000;
    while ((!rs.done || !rr.done) && ivcs_loop_now_ms() < end) ivcs_loop_run_once(l, 50);
    CHECK(rs.done && rs.res > 0);
    CHECK_EQ(rr.res, 2);
    CHECK(!memcmp(in, "ok", 2));
    CHECK_EQ(ivcs_loop_pending(l), 0);
    close(sv[0]);
    close(sv[1]);
    ivcs_loop_destroy(l);
}

int main(void)
{
    RUN(resolve_numeric_and_names);
    RUN(connect_send_recv_ipv4);
    RUN(connect_ipv6_and_hostname);
    RUN(connect_refused_is_clean);
    RUN(recv_timeout_fires);
    RUN(cancel_pending_recv);
    RUN(timer_fires_after_delay);
    RUN(bad_arguments);
    RUN(uring_refusal_policy);
    RUN(io_uring_refused_falls_back_to_epoll);
    RUN(backend_choice_and_env);
    RUN(send_and_recv_together_on_a_full_socket);
    return check_done();
}
