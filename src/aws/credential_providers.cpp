#include "aws/credential_providers.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "ascii_text.hpp"
#include "aws/credential_cache.hpp"
#include "aws/credential_responses.hpp"
#include "aws/ecr_token.hpp"
#include "aws/sigv4.hpp"
#include "net/coroutine_warning.hpp"
#include "peer_text.hpp"


namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

constexpr int container_tries = 3;
// Large enough for any token file an orchestrator writes (Kubernetes service account tokens are a few KiB).
constexpr std::size_t max_token_file_size = 64 * 1024;

// A file's or an answer's content without the white space around it (a trailing newline is common).
std::string_view trim_content(std::string_view text) { return trim(text, " \t\r\n"); }

// A token file's content without surrounding white space (a trailing newline is common). The content
// is a secret: messages name the file only.
result<std::string> read_token_file(std::string const& path, std::string_view what) {
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        return make_failure(failure_kind::config,
                            "reading the " + std::string{what} + " " + path + " failed: " + std::strerror(errno));
    }
    std::string text(max_token_file_size + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_token_file_size) {
        return make_failure(failure_kind::config, "the " + std::string{what} + " " + path + " is larger than " +
                                                      std::to_string(max_token_file_size / 1024) + " KiB");
    }
    auto token = std::string{trim_content(text)};
    if (token.empty()) return make_failure(failure_kind::config, "the " + std::string{what} + " " + path + " is empty");
    return token;
}

// `problem` with `context` put in front of its message.
failure in_context(failure problem, std::string const& context) {
    problem.message = context + ": " + problem.message;
    return problem;
}

// A non-200 answer of a credentials endpoint that speaks no AWS error format.
failure unexpected_status(http_response const& response, std::string const& operation) {
    failure problem = make_failure(failure_kind::service, operation + " answered HTTP " +
                                                               std::to_string(response.status));
    auto excerpt = sanitised_excerpt(response.body, 200);
    if (!excerpt.empty()) problem.message += ": " + excerpt;
    problem.http_status = response.status;
    problem.retryable = is_retryable(failure_kind::service, response.status);
    return problem;
}

// The path under `endpoint`'s own path prefix, e.g. "/latest/api/token".
std::string under(url const& endpoint, std::string_view path) {
    std::string base = endpoint.target;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + std::string{path};
}

class fixed_source final : public credential_source {
public:
    explicit fixed_source(aws_credentials credentials) : credentials_{std::move(credentials)} {}
    asio::awaitable<result<aws_credentials>> credentials() override { co_return credentials_; }

private:
    aws_credentials credentials_;
};

// One STS query-protocol call (AssumeRole or AssumeRoleWithWebIdentity) and its answer.
asio::awaitable<result<aws_credentials>> call_sts(http_transport& transport, url const& sts, std::string_view action,
                                                   std::string body, aws_credentials const* signer,
                                                   std::string const& region) {
    http_request request;
    request.method = "POST";
    request.target = sts.target;
    request.headers = {
        {"Host", sts.authority()},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
    };
    request.body = std::move(body);
    if (signer) sign_request(request, *signer, region, "sts", std::chrono::system_clock::now());

    auto const operation = "STS " + std::string{action} + " at " + sts.authority();
    auto response = co_await transport.send(sts, std::move(request));
    if (!response) co_return in_context(response.error(), operation);
    if (response->status != 200) co_return parse_aws_error(response->status, response->body, operation);
    auto credentials = parse_sts_credentials(response->body);
    if (!credentials) {
        auto problem = in_context(credentials.error(), operation);
        problem.http_status = response->status;
        co_return problem;
    }
    co_return std::move(*credentials);
}

class web_identity_source final : public credential_source {
public:
    web_identity_source(http_transport& transport, url sts, web_identity settings)
        : transport_{transport}, sts_{std::move(sts)}, settings_{std::move(settings)} {}

    asio::awaitable<result<aws_credentials>> credentials() override {
        // Read at every fetch: the orchestrator rotates the token in place.
        auto token = read_token_file(settings_.token_file, "web identity token file");
        if (!token) co_return token.error();
        auto session = settings_.session_name.empty() ? generated_session_name(std::chrono::system_clock::now())
                                                      : settings_.session_name;
        auto answer = co_await call_sts(transport_, sts_, "AssumeRoleWithWebIdentity",
                                        web_identity_body(settings_.role_arn, session, *token), nullptr, {});
        if (answer) answer->source = "web identity (role " + settings_.role_arn + ")";
        co_return answer;
    }

private:
    http_transport& transport_;
    url sts_;
    web_identity settings_;
};

class assume_role_source final : public credential_source {
public:
    assume_role_source(http_transport& transport, url sts, std::string region, role_to_assume role,
                       std::unique_ptr<credential_source> with)
        : transport_{transport}, sts_{std::move(sts)}, region_{std::move(region)}, role_{std::move(role)},
          with_{std::move(with)} {}

    asio::awaitable<result<aws_credentials>> credentials() override {
        auto source = co_await with_->credentials();
        if (!source) co_return in_context(source.error(), "assuming role " + role_.role_arn + " (" + role_.origin + ")");
        auto session = role_.session_name.empty() ? generated_session_name(std::chrono::system_clock::now())
                                                  : role_.session_name;
        auto answer = co_await call_sts(transport_, sts_, "AssumeRole",
                                        assume_role_body(role_.role_arn, session, role_.external_id), &*source, region_);
        if (answer) {
            answer->source = "role " + role_.role_arn + " (" + role_.origin + ") assumed with credentials from " +
                             source->source;
        }
        co_return answer;
    }

private:
    http_transport& transport_;
    url sts_;
    std::string region_;
    role_to_assume role_;
    std::unique_ptr<credential_source> with_;
};

class container_source final : public credential_source {
public:
    container_source(http_transport& transport, container_endpoint settings)
        : transport_{transport}, settings_{std::move(settings)} {}

    asio::awaitable<result<aws_credentials>> credentials() override {
        auto const operation = "container credentials at " + settings_.endpoint.origin();
        http_request request;
        request.target = settings_.endpoint.target;
        request.headers = {{"Accept", "application/json"}};
        std::string token = settings_.authorization_token;
        if (!settings_.authorization_token_file.empty()) {
            // Read at every fetch, as the SDKs do: EKS Pod Identity rotates it.
            auto read = read_token_file(settings_.authorization_token_file, "container authorization token file");
            if (!read) co_return read.error();
            if (read->find_first_of("\r\n") != std::string::npos) {
                co_return make_failure(failure_kind::config, "the container authorization token file " +
                                                                 settings_.authorization_token_file +
                                                                 " contains a line break, which cannot go into an HTTP header");
            }
            token = std::move(*read);
        }
        if (!token.empty()) request.headers.push_back({"Authorization", token});

        std::optional<failure> problem;
        for (int attempt = 1; attempt <= container_tries; ++attempt) {
            auto response = co_await transport_.send(settings_.endpoint, request);
            if (!response) {
                problem = in_context(response.error(), operation);
            } else if (response->status != 200) {
                problem = unexpected_status(*response, operation);
            } else {
                auto credentials = parse_json_credentials(response->body);
                if (!credentials) co_return in_context(credentials.error(), operation);
                credentials->source = operation;
                co_return std::move(*credentials);
            }
            if (!problem->retryable) break;
        }
        co_return *problem;
    }

private:
    http_transport& transport_;
    container_endpoint settings_;
};

// IMDS: the session token (IMDSv2) or none (IMDSv1), then GETs carrying it.
class metadata_session {
public:
    metadata_session(http_transport& transport, instance_metadata const& settings)
        : transport_{transport}, settings_{settings}, where_{"instance metadata at " + settings.endpoint.origin()} {}

    std::string const& where() const { return where_; }

    // Gets the IMDSv2 token; falls back to IMDSv1 (no token) when the service refuses the PUT with
    // 403, 404 or 405 or does not answer it in time (a container one hop too far), unless IMDSv1 is disabled.
    asio::awaitable<result<void>> start() {
        http_request request;
        request.method = "PUT";
        request.target = under(settings_.endpoint, "/latest/api/token");
        request.headers = {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}};
        auto response = co_await transport_.send(settings_.endpoint, std::move(request));
        std::string why_v1;
        if (!response) {
            if (response.error().kind != failure_kind::timeout) co_return in_context(response.error(), where_);
            why_v1 = "the IMDSv2 token request timed out";
        } else if (response->status == 200) {
            token_ = std::string{trim_content(response->body)};
            co_return result<void>{};
        } else if (response->status == 403 || response->status == 404 || response->status == 405) {
            why_v1 = "the IMDSv2 token request was answered HTTP " + std::to_string(response->status);
        } else {
            co_return unexpected_status(*response, where_ + " (IMDSv2 token)");
        }
        if (!settings_.v1_fallback) {
            co_return make_failure(failure_kind::service,
                                   where_ + ": " + why_v1 + " and AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1");
        }
        co_return result<void>{};
    }

    // The body of a 200 answer to GET `path`; a failure naming the path for anything else.
    asio::awaitable<result<std::string>> get(std::string_view path) {
        http_request request;
        request.target = under(settings_.endpoint, path);
        if (!token_.empty()) request.headers = {{"x-aws-ec2-metadata-token", token_}};
        auto response = co_await transport_.send(settings_.endpoint, std::move(request));
        auto const operation = where_ + " (GET " + std::string{path} + ")";
        if (!response) co_return in_context(response.error(), operation);
        if (response->status != 200) co_return unexpected_status(*response, operation);
        co_return std::move(response->body);
    }

private:
    http_transport& transport_;
    instance_metadata const& settings_;
    std::string where_;
    std::string token_;
};

class instance_metadata_source final : public credential_source {
public:
    instance_metadata_source(http_transport& transport, instance_metadata settings)
        : transport_{transport}, settings_{std::move(settings)} {}

    asio::awaitable<result<aws_credentials>> credentials() override {
        metadata_session session{transport_, settings_};
        if (auto started = co_await session.start(); !started) co_return started.error();
        auto roles = co_await session.get("/latest/meta-data/iam/security-credentials/");
        if (!roles) {
            if (roles.error().http_status == 404) {
                co_return make_failure(failure_kind::service,
                                       session.where() + ": the instance has no IAM role (instance profile) attached");
            }
            co_return roles.error();
        }
        auto role = std::string{trim_content(std::string_view{*roles}.substr(0, roles->find('\n')))};
        if (role.empty() || role.find('/') != std::string::npos) {
            co_return make_failure(failure_kind::bad_response,
                                   session.where() + ": the IAM role name \"" + sanitised_excerpt(role, 80) +
                                       "\" cannot be used");
        }
        auto answer = co_await session.get("/latest/meta-data/iam/security-credentials/" + role);
        if (!answer) co_return answer.error();
        auto credentials = parse_json_credentials(*answer);
        if (!credentials) co_return in_context(credentials.error(), session.where() + " (role " + role + ")");
        credentials->source = "instance metadata (role " + role + ")";
        co_return std::move(*credentials);
    }

private:
    http_transport& transport_;
    instance_metadata settings_;
};

std::unique_ptr<credential_source> base_source(credential_plan const& plan, credential_transports transports,
                                               url const& sts) {
    return std::visit(
        [&](auto const& base) -> std::unique_ptr<credential_source> {
            using type = std::decay_t<decltype(base)>;
            if constexpr (std::is_same_v<type, fixed_keys>) {
                return std::make_unique<fixed_source>(base.credentials);
            } else if constexpr (std::is_same_v<type, web_identity>) {
                return std::make_unique<web_identity_source>(transports.sts, sts, base);
            } else if constexpr (std::is_same_v<type, container_endpoint>) {
                return std::make_unique<container_source>(transports.container, base);
            } else {
                return std::make_unique<instance_metadata_source>(transports.instance_metadata, base);
            }
        },
        plan.base);
}

}  // namespace

std::unique_ptr<credential_source> make_credential_source(credential_plan const& plan,
                                                          credential_transports transports,
                                                          std::string const& region, url const& sts) {
    std::unique_ptr<credential_source> source = std::make_unique<credential_cache>(base_source(plan, transports, sts));
    for (auto const& role : plan.roles) {
        source = std::make_unique<credential_cache>(
            std::make_unique<assume_role_source>(transports.sts, sts, region, role, std::move(source)));
    }
    return source;
}

asio::awaitable<result<std::string>> instance_metadata_region(http_transport& transport,
                                                              instance_metadata const& settings) {
    metadata_session session{transport, settings};
    if (auto started = co_await session.start(); !started) co_return started.error();
    auto region = co_await session.get("/latest/meta-data/placement/region");
    if (!region) co_return region.error();
    co_return std::string{trim_content(*region)};
}

}  // namespace rancher_ecr
