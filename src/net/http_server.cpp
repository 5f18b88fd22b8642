#include "net/http_server.hpp"

#include "error.hpp"
#include "net/gzip.hpp"
#include "net/open_files.hpp"
#include "net/request_line_parser.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <list>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

namespace rancher_ecr {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How an answer goes out: as it is, or gzip-compressed for a request that accepts it.
struct coded_body {
    std::string_view body;
    bool varies = false;  // Vary: Accept-Encoding (a compressible type)
    bool gzipped = false;  // Content-Encoding: gzip
};

// The status line and header of `answer` into `head` (cleared first; its capacity is reused).
void write_head(std::string& head, http_response const& answer, coded_body const& coded, int version,
                bool keep_alive) {
    head.clear();
    head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    std::array<char, 16> digits;
    auto end = std::to_chars(digits.data(), digits.data() + digits.size(), answer.status).ptr;
    head.append(digits.data(), end);
    head += ' ';
    auto reason = http::obsolete_reason(static_cast<http::status>(answer.status));
    head.append(reason.data(), reason.size());
    head += "\r\n";
    for (auto const& header : answer.headers) {
        head += header.name;
        head += ": ";
        head += header.value;
        head += "\r\n";
    }
    if (coded.varies) head += "Vary: Accept-Encoding\r\n";
    if (coded.gzipped) head += "Content-Encoding: gzip\r\n";
    head += "Content-Length: ";
    end = std::to_chars(digits.data(), digits.data() + digits.size(), coded.body.size()).ptr;
    head.append(digits.data(), end);
    head += "\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    else if (version == 10) head += "Connection: keep-alive\r\n";
    head += "\r\n";
}

// Text and JSON compress well; an answer that names its own coding is left alone.
bool compressible(http_response const& answer) {
    if (answer.header("Content-Encoding")) return false;
    auto const type = answer.header("Content-Type").value_or("");
    return type.starts_with("text/") || type.starts_with("application/json");
}

// Below one packet's worth, compressing saves a client nothing it would notice.
constexpr std::size_t worth_compressing = 1400;

// The wait after a failed accept, as Go's net/http does it: 5 ms, doubling to 1 s. A failed accept
// (EMFILE, ENFILE, ENOBUFS) leaves the connection in the backlog and the listening socket readable:
// retrying at once would spin at full speed until a descriptor frees up.
std::chrono::milliseconds next_accept_pause(std::chrono::milliseconds pause) {
    using std::chrono::milliseconds;
    if (pause < milliseconds{5}) return milliseconds{5};
    return std::min(pause * 2, milliseconds{1000});
}

http_response const too_large{413, {{"Content-Type", "text/plain"}}, "request too large\n"};
http_response const malformed{400, {{"Content-Type", "text/plain"}}, "malformed request\n"};

}  // namespace

struct http_server::state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor executor, http_server_options opts, http_handler h)
        : options{std::move(opts)}, handler{std::move(h)}, acceptor{executor}, accept_pause{executor} {}

    http_server_options options;
    http_handler handler;
    tcp::acceptor acceptor;
    asio::steady_timer accept_pause;  // the backoff after a failed accept; stop() cancels it
    struct open_connection {
        beast::tcp_stream* stream;
        bool listed = true;  // false once evicted or stopped: the list no longer holds it
    };
    std::list<open_connection*> connections;  // open ones, oldest first
    bool stopped = false;
    // The gzip form of the last answers compressed, by the answer: a handler hands the same answer
    // to many requests, and each is compressed once. Weak, so that a cached body never keeps an
    // answer alive, and an answer's address reused by a new one is never mistaken for it.
    struct gzipped_answer {
        std::weak_ptr<http_response const> identity;
        std::shared_ptr<std::string const> body;
    };
    std::array<gzipped_answer, 4> gzipped;
    std::size_t next_gzipped = 0;

    // The body to send for `answer` to a request that does or does not accept gzip; `holder`
    // keeps a compressed body alive until it is written.
    coded_body code(std::shared_ptr<http_response const> const& answer, bool accepts_gzip,
                    std::shared_ptr<std::string const>& holder);

    asio::awaitable<void> session(tcp::socket socket);
};

coded_body http_server::state::code(std::shared_ptr<http_response const> const& answer, bool accepts_gzip,
                                     std::shared_ptr<std::string const>& holder) {
    coded_body plain{answer->body, compressible(*answer), false};
    if (!plain.varies || !accepts_gzip || answer->body.size() < worth_compressing) return plain;
    auto const same = [&](gzipped_answer const& entry) {
        return !entry.identity.expired() && !entry.identity.owner_before(answer) && !answer.owner_before(entry.identity);
    };
    auto const found = std::ranges::find_if(gzipped, same);
    if (found != gzipped.end()) {
        holder = found->body;
    } else {
        auto compressed = gzip(answer->body);
        if (!compressed) return plain;
        holder = std::make_shared<std::string const>(std::move(*compressed));
        gzipped[next_gzipped] = {answer, holder};
        next_gzipped = (next_gzipped + 1) % gzipped.size();
    }
    return {*holder, true, true};
}

asio::awaitable<void> http_server::state::session(tcp::socket socket) {
    auto self = shared_from_this();  // connections outlive no server state
    beast::tcp_stream stream{std::move(socket)};
    open_connection me{&stream};
    // Leaves the list however the session ends, a throwing handler included: stop() and eviction
    // must never reach a connection whose frame is gone.
    struct listing {
        std::list<open_connection*>& connections;
        open_connection& me;
        std::list<open_connection*>::iterator position;
        ~listing() {
            if (me.listed) connections.erase(position);
        }
    } const listed{connections, me, connections.insert(connections.end(), &me)};
    if (connections.size() > options.max_connections) {
        // Drop the longest-open connection: a probe that just arrived must get through.
        boost::system::error_code ignored;
        connections.front()->listed = false;
        connections.front()->stream->socket().close(ignored);
        connections.pop_front();
    }
    beast::flat_buffer buffer{options.max_request_bytes};
    std::string method, target, head;  // reused by every request of the connection
    for (;;) {
        request_line_parser parser{method, target};
        parser.header_limit(static_cast<std::uint32_t>(options.max_request_bytes));
        parser.body_limit(options.max_request_bytes);
        stream.expires_after(options.read_timeout);
        auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)read;
        if (read_ec) {
            // A request too large or malformed gets a last answer; a closed or silent connection none.
            http_response const* last = nullptr;
            if (read_ec == http::error::header_limit || read_ec == http::error::body_limit ||
                read_ec == http::error::buffer_overflow)
                last = &too_large;
            else if (read_ec.category() == http::make_error_code(http::error::bad_method).category() &&
                     read_ec != http::error::end_of_stream && read_ec != http::error::partial_message)
                last = &malformed;
            if (last) {
                write_head(head, *last, {last->body}, 11, false);
                stream.expires_after(options.read_timeout);
                std::array<asio::const_buffer, 2> const message{asio::buffer(head), asio::buffer(last->body)};
                co_await asio::async_write(stream, message, use_tuple);
            }
            break;
        }
        // Holds the answer until it is written, even if the handler replaces it meanwhile.
        auto const answer = handler(method, target);
        std::shared_ptr<std::string const> compressed;  // held, like the answer, until written
        auto const coded = code(answer, parser.accepts_gzip(), compressed);
        bool const keep_alive = parser.keep_alive();
        write_head(head, *answer, coded, parser.version(), keep_alive);
        // A HEAD request gets the header alone (RFC 9110, 9.3.2).
        auto const body = method == "HEAD" ? asio::const_buffer{} : asio::buffer(coded.body.data(), coded.body.size());
        stream.expires_after(options.read_timeout);
        std::array<asio::const_buffer, 2> const message{asio::buffer(head), body};
        auto [write_ec, written] = co_await asio::async_write(stream, message, use_tuple);
        (void)written;
        if (write_ec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

result<std::unique_ptr<http_server>> http_server::listen(asio::any_io_executor executor, http_server_options options,
                                                         http_handler handler) {
    auto where = options.address + ":" + std::to_string(options.port);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options.address, ec);
    if (ec) return make_failure(failure_kind::config, "cannot listen on " + where + ": invalid address");
    auto s = std::make_shared<state>(std::move(executor), std::move(options), std::move(handler));
    tcp::endpoint endpoint{address, s->options.port};
    s->acceptor.open(endpoint.protocol(), ec);
    if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) s->acceptor.bind(endpoint, ec);
    if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_failure(failure_kind::config, "cannot listen on " + where + ": " + ec.message());
    return std::unique_ptr<http_server>{new http_server{std::move(s)}};
}

http_server::http_server(std::shared_ptr<state> s) : state_{std::move(s)} {}

http_server::~http_server() { stop(); }

std::uint16_t http_server::port() const { return state_->acceptor.local_endpoint().port(); }

asio::awaitable<void> http_server::run() {
    auto s = state_;
    std::chrono::milliseconds pause{0};  // zero while accepting works
    while (!s->stopped) {
        auto [ec, socket] = co_await s->acceptor.async_accept(use_tuple);
        if (ec) {
            if (s->stopped || ec == asio::error::operation_aborted) break;
            // E.g. EMFILE: keep serving the connections we have, try again after a pause, say it once.
            if (pause.count() == 0)
                spdlog::warn("accepting a connection failed: {} ({}); retrying after 5 ms to 1 s, the open "
                             "connections are still served",
                             ec.message(), open_file_limit());
            pause = next_accept_pause(pause);
            s->accept_pause.expires_after(pause);
            co_await s->accept_pause.async_wait(use_tuple);
            continue;
        }
        if (pause.count() != 0) {
            spdlog::info("accepting connections again");
            pause = std::chrono::milliseconds{0};
        }
        socket.set_option(tcp::no_delay(true), ec);
        // A connection that throws (a bug: the handler's, or ours) is logged and closed; the others go on.
        asio::co_spawn(s->acceptor.get_executor(), s->session(std::move(socket)), [](std::exception_ptr error) {
            if (error) spdlog::error("serving a probe connection failed: {}", exception_text(error));
        });
    }
}

void http_server::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    state_->accept_pause.cancel();
    for (auto* connection : state_->connections) {
        connection->listed = false;
        connection->stream->socket().close(ignored);
    }
    state_->connections.clear();
}

}  // namespace rancher_ecr
