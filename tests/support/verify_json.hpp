#pragma once

// Reading the `obsync verify --json` report in tests.

#include <set>
#include <string>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/cli_runner.hpp"

namespace obsync::test {

// The one vault's entry of a verify --json report.
inline boost::json::object verified_vault(const CliResult& result) {
    const boost::json::object report = result.json();
    EXPECT_EQ(report.at("vaults").as_array().size(), 1U) << result.out;
    return report.at("vaults").as_array().at(0).as_object();
}

// A vault's drift as "kind path" strings.
inline std::set<std::string> drift_of(const boost::json::object& vault) {
    std::set<std::string> out;
    for (const auto& d : vault.at("drift").as_array()) {
        out.insert(std::string(d.at("kind").as_string()) + " " +
                   std::string(d.at("path").as_string()));
    }
    return out;
}

}  // namespace obsync::test
