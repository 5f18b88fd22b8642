#pragma once

#include <memory>
#include <string>

#include "aws/credentials.hpp"
#include "support/child_process.hpp"

namespace rancher_ecr::testing {

// moto_server with signature checking on, started by tests/support/aws_stand_in.py on a free
// port, with an IAM user allowed ecr:GetAuthorizationToken, temporary credentials of a role
// (STS AssumeRole) and a user without ECR permission. Stops when this object goes.
class aws_stand_in {
public:
    aws_stand_in();

    std::string const& endpoint() const { return endpoint_; }  // http://127.0.0.1:PORT
    std::string const& region() const { return region_; }
    std::string const& account_id() const { return account_id_; }
    aws_credentials const& user() const { return user_; }
    aws_credentials const& session() const { return session_; }
    aws_credentials const& denied() const { return denied_; }

private:
    std::unique_ptr<child_process> process_;
    std::string endpoint_;
    std::string region_;
    std::string account_id_;
    aws_credentials user_;
    aws_credentials session_;
    aws_credentials denied_;
};

}  // namespace rancher_ecr::testing
