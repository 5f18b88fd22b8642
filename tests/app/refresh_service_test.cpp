// The refresh of the real binary end to end, where it meets faulty or careless peers: several
// accounts of which one keeps failing (the metrics), Rancher failing its writes (the kept ECR
// token), and peers whose error answers echo the request (no secret may travel on). moto_server
// (signature checking on) plays ECR and the Rancher stand-in plays Rancher, with loopback servers in
// front of them that count, rewrite or answer in their place.
#include <csignal>
#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "net/http_message.hpp"
#include "net/https_client.hpp"
#include "support/child_process.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::rancher_stand_in;
using scripted = rancher_ecr::testing::scripted_answer;

constexpr auto metric = "rancher_ecr_credentials_";

// Retries back off (2 s, 4 s, 8 s... with jitter): a longer default deadline.
bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 60s) {
    return rancher_ecr::testing::eventually(condition, deadline);
}

// Sends `request` on to `upstream` as it is (its Host header included, which SigV4 signs and the
// Rancher stand-in builds its links from); an answer without the framing headers, which the
// loopback server sets again for the body it sends.
scripted forward(url const& upstream, http_request const& request) {
    boost::asio::io_context context;
    https_client client{context.get_executor(), {}};
    auto response = rancher_ecr::testing::run_with_deadline(context, client.send(upstream, request), 10s);
    if (!response) return scripted{scripted::action::close, {}, {}};
    std::erase_if(response->headers, [](http_header const& h) {
        return iequals(h.name, "Content-Length") || iequals(h.name, "Transfer-Encoding") || iequals(h.name, "Connection");
    });
    return scripted{scripted::action::respond, *response, {}};
}

// The value of one series in a Prometheus exposition ("name" or "name{labels}"), if it is there.
std::optional<double> sample(std::string const& exposition, std::string const& series) {
    std::size_t at = 0;
    while (at < exposition.size()) {
        auto end = exposition.find('\n', at);
        if (end == std::string::npos) end = exposition.size();
        std::string_view line{exposition.data() + at, end - at};
        if (line.starts_with(series + " ")) return std::stod(std::string{line.substr(series.size() + 1)});
        at = end + 1;
    }
    return std::nullopt;
}

// Every request's headers and body as one text, as an echoing peer would quote them; the headers in
// the order they came, or the last first.
std::string echo_of(http_request const& request, bool last_header_first = false) {
    std::string text = request.method + " " + request.target + "\r\n";
    auto headers = request.headers;
    if (last_header_first) std::ranges::reverse(headers);
    for (auto const& h : headers) text += h.name + ": " + h.value + "\r\n";
    return text + "\r\n" + request.body;
}

// What a careless JSON serializer does to a string: '/' escaped as "\/" (PHP, some Java libraries).
std::string with_escaped_slashes(std::string text) {
    for (auto at = text.find('/'); at != std::string::npos; at = text.find('/', at + 2)) text.replace(at, 1, "\\/");
    return text;
}

// Fails the test when `text` holds `secret` or any 16 characters of it, quoting the line that does.
void expect_no_trace_of(std::string const& secret, std::string const& text, std::string_view where) {
    auto const size = std::min<std::size_t>(secret.size(), 16);
    for (std::size_t i = 0; i + size <= secret.size(); ++i) {
        auto const at = text.find(secret.substr(i, size));
        if (at == std::string::npos) continue;
        auto begin = text.rfind('\n', at);
        begin = begin == std::string::npos ? 0 : begin + 1;
        auto const end = std::min(text.find('\n', at), begin + 800);
        ADD_FAILURE() << "a part of a secret (" << secret.substr(i, size) << ") in " << where << ":\n"
                      << text.substr(begin, end - begin);
        return;
    }
}

class refresh_service_test : public rancher_ecr::testing::end_to_end_test<rancher_stand_in> {
protected:
    std::string host_of(std::string const& account) const {
        return account + ".dkr.ecr." + aws_->region() + ".amazonaws.com";
    }

    std::string metrics() {
        auto answer = probe("/metrics");
        return answer ? answer->body : std::string{};
    }
    std::string secret_of(std::string const& credential_id) {
        auto const stored = rancher_->credential(credential_id);
        auto const& value = stored.at("secretValue");
        return value.is_string() ? std::string{value.as_string()} : std::string{};
    }
    // Every distinct /healthz and /metrics answer until `done` holds and the service is healthy (the
    // answers of the failures on the way included), one after the other.
    std::string probes_until(std::function<bool()> const& done) {
        std::set<std::string> seen;
        bool const reached = eventually([&] {
            for (auto path : {"/healthz", "/metrics"})
                if (auto answer = probe(path)) seen.insert(answer->body);
            return done() && health_status() == 200;
        });
        EXPECT_TRUE(reached) << log();
        std::string all;
        for (auto const& body : seen) all += body + "\n";
        return all;
    }
    // Stops the service and returns its whole output.
    std::string stop() {
        service_->signal(SIGTERM);
        EXPECT_EQ(service_->wait(10s), 0);
        while (service_->read_line(2s)) {
        }  // what is left in the pipe, to its end
        auto output = service_->output();
        service_.reset();
        return output;
    }
};

// Fault 4: with two accounts, one failing at every try, no series may claim a success of the failing
// one, nor "every token written": the failing registry has no success series, the other has its own.
TEST_F(refresh_service_test, a_failing_account_never_shows_a_success_in_the_metrics) {
    auto const first_host = host_of("111111111111");
    auto const second_host = host_of("222222222222");
    auto first = rancher_->add_credential(rancher_->add_registry(first_host), "AWS", "old");
    // The second account has no registry in Rancher: every refresh of it fails.
    auto env = environment();
    env["AWS_ECR_REGISTRY_IDS"] = "111111111111,222222222222";
    start(env);
    auto const all = std::string{metric} + "last_success_timestamp_seconds";
    auto const of_first = std::string{metric} + "registry_last_success_timestamp_seconds{target=\"default\",registry=\"" + first_host + "\"}";
    auto const of_second =
        std::string{metric} + "registry_last_success_timestamp_seconds{target=\"default\",registry=\"" + second_host + "\"}";
    std::string claimed;  // the first exposition that claimed a success that did not happen
    ASSERT_TRUE(eventually([&] {
        auto text = metrics();
        if (claimed.empty() && (sample(text, all).value_or(0) != 0 || sample(text, of_second).value_or(0) != 0))
            claimed = text;
        // The first written, and the second failed twice.
        auto failures = sample(text, std::string{metric} + "refresh_failures_total{reason=\"registry_not_found\"}");
        return secret_of(first) == "111111111111-auth-token" && failures.value_or(0) >= 2;
    })) << log() << "\n---\n" << metrics();
    EXPECT_EQ(claimed, "") << "a success that did not happen";
    auto text = metrics();
    EXPECT_EQ(sample(text, all), 0.0) << text;
    EXPECT_FALSE(sample(text, of_second).has_value()) << text;
    ASSERT_GT(sample(text, of_first).value_or(0), 0) << text;
    EXPECT_GT(*sample(text, std::string{metric} + "token_expiry_timestamp_seconds{target=\"default\",registry=\"" + first_host + "\"}"),
              *sample(text, of_first));

    // Once the second registry exists, its retry writes it: both have a success, and so has "every".
    auto second = rancher_->add_credential(rancher_->add_registry(second_host), "AWS", "old");
    ASSERT_TRUE(eventually([&] {
        auto now = metrics();
        return secret_of(second) == "222222222222-auth-token" && sample(now, of_second).value_or(0) > 0 &&
               sample(now, all).value_or(0) > 0;
    })) << log() << "\n---\n" << metrics();
    text = metrics();
    EXPECT_GE(*sample(text, all), *sample(text, of_second)) << text;
    EXPECT_GE(*sample(text, of_second), *sample(text, of_first)) << text;
    auto checked = rancher_ecr::testing::run_command(
        {"sh", "-c", "printf '%s' \"$METRICS\" | promtool check metrics"},
        {{"PATH", "/usr/bin:/bin"}, {"METRICS", text}}, 30s);
    EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << text;
}

// Fault 7: Rancher answers the write with 503 four times; the retries write the token ECR handed out
// at the first try, and ECR is asked once.
TEST_F(refresh_service_test, rancher_503s_are_retried_with_the_kept_token) {
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    rancher_->add_fault(
        boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 503}, {"times", 4}});
    std::atomic<int> ecr_requests{0};
    auto const moto = *parse_url(aws_->endpoint());
    loopback_server counting{[&](http_request const& request) {
        ++ecr_requests;
        return forward(moto, request);
    }};
    auto env = environment();
    env["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:" + std::to_string(counting.port());
    start(env);
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); }, 90s)) << log();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    EXPECT_EQ(ecr_requests.load(), 1) << log();
    auto text = metrics();
    EXPECT_EQ(sample(text, std::string{metric} + "refresh_failures_total{reason=\"rancher\"}"), 4.0) << text;
    EXPECT_EQ(sample(text, std::string{metric} + "refresh_attempts_total"), 5.0) << text;
    auto puts = std::ranges::count_if(rancher_->state().at("requests").as_array(),
                                      [](auto const& r) { return r.as_object().at("method") == "PUT"; });
    EXPECT_EQ(puts, 5);
}

// A password as long as ECR's real ones (about 1,500 characters of base64), so that an excerpt of a
// peer's answer holds only a part of it.
std::string long_password() {
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::mt19937 random{20260101};
    std::string out;
    for (int i = 0; i < 1500; ++i) out += alphabet[random() % alphabet.size()];
    return out + "==";
}

// A Rancher that echoes the credential write in its error answers, in three ways in turn (a Cattle
// error quoting the body and the headers, the bare body with its slashes escaped, a plain-text dump),
// then lets the write through. ECR hands out a long password (moto's answer rewritten).
TEST_F(refresh_service_test, a_rancher_error_that_echoes_the_request_reveals_no_secret) {
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    auto const secret = long_password();
    auto const moto = *parse_url(aws_->endpoint());
    loopback_server ecr{[&](http_request const& request) {
        auto forwarded = forward(moto, request);
        if (forwarded.what != scripted::action::respond || forwarded.response.status != 200) return forwarded;
        auto body = boost::json::parse(forwarded.response.body).as_object();
        for (auto& entry : body.at("authorizationData").as_array())
            entry.as_object()["authorizationToken"] = basic_authorization("AWS", secret).substr(6);
        forwarded.response.body = boost::json::serialize(body);
        return forwarded;
    }};
    std::atomic<int> echoed{0};
    auto const stand_in = *parse_url(rancher_->url());
    loopback_server rancher{[&](http_request const& request) {
        if (request.method != "PUT" || echoed >= 3) return forward(stand_in, request);
        int const variant = echoed++;
        http_response echo;
        if (variant == 0) {
            echo = {422, {{"Content-Type", "application/json"}},
                    boost::json::serialize(boost::json::object{{"type", "error"},
                                                               {"status", 422},
                                                               {"code", "InvalidFormat"},
                                                               {"fieldName", "secretValue"},
                                                               {"message", echo_of(request)}})};
        } else if (variant == 1) {
            echo = {422, {{"Content-Type", "application/json"}}, with_escaped_slashes(request.body)};
        } else {
            echo = {500, {{"Content-Type", "text/plain"}}, "Internal error while handling\r\n" + echo_of(request, true)};
        }
        return scripted{scripted::action::respond, echo, {}};
    }};
    auto env = environment();
    env["LOG_LEVEL"] = "trace";
    env["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:" + std::to_string(ecr.port());
    env["CATTLE_URL"] = "http://127.0.0.1:" + std::to_string(rancher.port());
    start(env);
    std::string const probes = probes_until([&] { return secret_of(credential) == secret; });
    auto const output = stop();
    ASSERT_EQ(echoed.load(), 3);
    ASSERT_TRUE(contains(output, "HTTP 422")) << output;
    ASSERT_TRUE(contains(output, "HTTP 500")) << output;
    ASSERT_TRUE(contains(probes, "HTTP 422") || contains(probes, "HTTP 500")) << probes;
    auto const basic = basic_authorization(rancher_->access_key(), rancher_->secret_key());
    for (auto const& what : {secret, with_escaped_slashes(secret), rancher_->secret_key(), basic.substr(6),
                             aws_->user().secret_access_key}) {
        expect_no_trace_of(what, output, "the log");
        expect_no_trace_of(what, probes, "/healthz or /metrics");
    }
}

// ECR (a stand-in in front of moto) answers the first three calls with errors that echo the request's
// headers: the SigV4 Authorization (access key id, signature) and X-Amz-Security-Token, as JSON, as
// XML and as plain text; then it lets the call through.
TEST_F(refresh_service_test, an_ecr_error_that_echoes_the_request_reveals_no_secret) {
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    auto const moto = *parse_url(aws_->endpoint());
    std::atomic<int> echoed{0};
    loopback_server ecr{[&](http_request const& request) {
        if (echoed >= 3) return forward(moto, request);
        int const variant = echoed++;
        http_response echo;
        if (variant == 0) {
            echo = {400, {{"Content-Type", "application/x-amz-json-1.1"}},
                    boost::json::serialize(boost::json::object{{"__type", "UnrecognizedClientException"},
                                                               {"message", echo_of(request)}})};
        } else if (variant == 1) {
            echo = {403, {{"Content-Type", "text/xml"}},
                    "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The "
                    "request signature we calculated does not match the signature you provided. The canonical "
                    "request was " + echo_of(request) + "</Message></Error></ErrorResponse>"};
        } else {
            echo = {500, {{"Content-Type", "text/plain"}},
                    "refused " + std::string{request.header("Authorization").value_or("")} + "\r\n" +
                        echo_of(request, true)};
        }
        return scripted{scripted::action::respond, echo, {}};
    }};
    auto const& session = aws_->session();
    auto env = environment();
    env["LOG_LEVEL"] = "trace";
    env["AWS_ACCESS_KEY_ID"] = session.access_key_id;
    env["AWS_SECRET_ACCESS_KEY"] = session.secret_access_key;
    env["AWS_SESSION_TOKEN"] = session.session_token;
    env["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:" + std::to_string(ecr.port());
    start(env);
    std::string const probes = probes_until([&] { return secret_of(credential) == password(); });
    auto const output = stop();
    ASSERT_EQ(echoed.load(), 3);
    ASSERT_TRUE(contains(output, "UnrecognizedClientException")) << output;
    ASSERT_TRUE(contains(output, "SignatureDoesNotMatch")) << output;
    EXPECT_TRUE(contains(output, "Signature=***")) << output;  // the plain-text echo led with it
    ASSERT_TRUE(contains(probes, "HTTP 4") || contains(probes, "HTTP 500")) << probes;
    std::vector<std::string> secrets{session.secret_access_key, session.session_token, session.access_key_id,
                                     password(), rancher_->secret_key()};
    for (auto const& request : ecr.requests()) {
        auto authorization = std::string{request.header("Authorization").value_or("")};
        auto signature = authorization.find("Signature=");
        ASSERT_NE(signature, std::string::npos) << authorization;
        secrets.push_back(authorization.substr(signature + 10));
    }
    for (auto const& what : secrets) {
        expect_no_trace_of(what, output, "the log");
        expect_no_trace_of(what, probes, "/healthz or /metrics");
    }
}

}  // namespace
}  // namespace rancher_ecr
