#include "support/aws_stand_in.hpp"

#include <stdexcept>

#include <boost/json.hpp>

namespace rancher_ecr::testing {

namespace {

aws_credentials credentials_from(boost::json::object const& keys) {
    aws_credentials credentials;
    credentials.access_key_id = keys.at("access_key_id").as_string().c_str();
    credentials.secret_access_key = keys.at("secret_access_key").as_string().c_str();
    if (auto const* token = keys.if_contains("session_token")) credentials.session_token = token->as_string().c_str();
    credentials.source = "test";
    return credentials;
}

}  // namespace

namespace {

std::vector<std::string> command_with(std::vector<std::string> const& arguments) {
    std::vector<std::string> command{"python3", TESTS_SOURCE_DIR "/support/aws_stand_in.py"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return command;
}

}  // namespace

aws_stand_in::aws_stand_in(std::vector<std::string> const& arguments)
    : process_{std::make_unique<child_process>(command_with(arguments))} {
    auto line = process_->read_line(std::chrono::seconds{60});
    if (!line || line->empty() || line->front() != '{')
        throw std::runtime_error("the AWS stand-in did not start: " + process_->output());
    auto description = boost::json::parse(*line).as_object();
    endpoint_ = description.at("endpoint").as_string().c_str();
    region_ = description.at("region").as_string().c_str();
    account_id_ = description.at("account_id").as_string().c_str();
    if (!description.contains("user")) return;  // --no-auth: no identities
    user_ = credentials_from(description.at("user").as_object());
    session_ = credentials_from(description.at("session").as_object());
    denied_ = credentials_from(description.at("denied").as_object());
    role_arn_ = description.at("role_arn").as_string().c_str();
}

}  // namespace rancher_ecr::testing
