#include "sink/backup_marker.hpp"

#include <boost/json.hpp>

#include "util/clock.hpp"

namespace obsync::sink {

std::string backup_marker_document(const sync::BackupIdentity& backup) {
    return boost::json::serialize(boost::json::object{{"format", 1},
                                                      {"vault_id", backup.vault_id},
                                                      {"vault_name", backup.vault_name},
                                                      {"created", iso8601_utc(epoch_ms())}}) +
           "\n";
}

}  // namespace obsync::sink
