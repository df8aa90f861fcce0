#include "sync/ledger.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace obsync::sync {
namespace {

FileState note(std::string path, std::int64_t uid) {
    FileState f;
    f.path = std::move(path);
    f.uid = uid;
    f.hash = "h";
    return f;
}

TEST(Ledger, AnIncrementalRunMovesTheCursorBelowTheLowestUnappliedRecord) {
    Ledger ledger;
    ledger.start(Cursor{10, false}, false);
    ledger.expect({11, 12, 13, 14}, 14);

    ledger.settle({11, 13});
    Checkpoint batch = ledger.take(false);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(batch.cursor->version, 11);  // 12 is not applied
    EXPECT_FALSE(batch.cursor->initial);
    ledger.stored(batch);

    ledger.settle({12, 14});
    batch = ledger.take(false);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(batch.cursor->version, 14);
    ledger.stored(batch);
    EXPECT_EQ(ledger.cursor().version, 14);
}

TEST(Ledger, AFailureAtTheStartOfAnIncrementalRunKeepsTheSavedCursor) {
    Ledger ledger;
    ledger.start(Cursor{10, false}, false);
    ledger.expect({11, 12}, 12);
    ledger.settle({12});
    const Checkpoint batch = ledger.take(true);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(batch.cursor->version, 10);
}

TEST(Ledger, ASnapshotRunMovesTheCursorOnlyAtTheEnd) {
    Ledger ledger;
    ledger.start(Cursor{0, true}, true);
    ledger.expect({3, 5, 9}, 9);
    ledger.settle({3, 5, 9});
    EXPECT_FALSE(ledger.take(false).cursor.has_value());
    const Checkpoint final_batch = ledger.take(true);
    ASSERT_TRUE(final_batch.cursor.has_value());
    EXPECT_EQ(final_batch.cursor->version, 9);
    EXPECT_FALSE(final_batch.cursor->initial);
}

TEST(Ledger, ASnapshotRunWithAFailureEndsBelowIt) {
    Ledger ledger;
    ledger.start(Cursor{0, true}, true);
    ledger.expect({3, 5, 9}, 9);
    ledger.settle({3, 9});
    const Checkpoint batch = ledger.take(true);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(batch.cursor->version, 4);
    EXPECT_FALSE(batch.cursor->initial);
}

TEST(Ledger, AFullRunNeverMovesTheCursorBackAndAsksForAnotherSnapshot) {
    Ledger ledger;
    ledger.start(Cursor{100, false}, true);  // --full over saved progress
    ledger.expect({3, 5, 120}, 120);
    ledger.settle({3, 120});
    const Checkpoint failed = ledger.take(true);
    ASSERT_TRUE(failed.cursor.has_value());
    EXPECT_EQ(failed.cursor->version, 100);
    EXPECT_TRUE(failed.cursor->initial);

    Ledger clean;
    clean.start(Cursor{100, false}, true);
    clean.expect({3, 5, 120}, 120);
    clean.settle({3, 5, 120});
    const Checkpoint done = clean.take(true);
    ASSERT_TRUE(done.cursor.has_value());
    EXPECT_EQ(done.cursor->version, 120);
    EXPECT_FALSE(done.cursor->initial);
}

TEST(Ledger, ChangesWaitForTheNextCheckpointAndAreTakenOnce) {
    Ledger ledger;
    ledger.start(Cursor{}, false);
    ledger.upsert(note("a.md", 1));
    ledger.remove("b.md");
    EXPECT_EQ(ledger.pending(), 2U);
    const Checkpoint batch = ledger.take(false);
    ASSERT_EQ(batch.upserts.size(), 1U);
    EXPECT_EQ(batch.upserts[0].path, "a.md");
    EXPECT_EQ(batch.removals, std::vector<std::string>{"b.md"});
    EXPECT_EQ(ledger.pending(), 0U);
    const Checkpoint empty = ledger.take(false);
    EXPECT_TRUE(empty.upserts.empty());
    EXPECT_TRUE(empty.removals.empty());
}

TEST(Ledger, AnUnstoredCheckpointDoesNotMoveTheCursor) {
    Ledger ledger;
    ledger.start(Cursor{10, false}, false);
    ledger.expect({11}, 11);
    ledger.settle({11});
    const Checkpoint batch = ledger.take(false);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(ledger.cursor().version, 10);  // until the store has it
    ledger.stored(batch);
    EXPECT_EQ(ledger.cursor().version, 11);
}

TEST(Ledger, ARefusedRecordIsSettledSoTheCursorPassesItAndTheRefusalIsRecorded) {
    Ledger ledger;
    ledger.start(Cursor{10, false}, false);
    ledger.expect({11, 12}, 12);
    ledger.refuse({"bad\tname.md", 11, "refused: control character"}, {11});
    ledger.settle({12});
    const Checkpoint batch = ledger.take(false);
    ASSERT_TRUE(batch.cursor.has_value());
    EXPECT_EQ(batch.cursor->version, 12);
    ASSERT_EQ(batch.refusals.size(), 1U);
    EXPECT_EQ(batch.refusals[0].uid, 11);
    EXPECT_TRUE(batch.cleared_refusals.empty());
    EXPECT_EQ(ledger.refusals().size(), 1U);
}

// A complete run meets a recorded refusal again: the record supersedes it and is refused anew in
// the same batch. The batch must record it, not record and clear it (the stores clear last).
TEST(Ledger, ARefusalMetAgainIsRecordedNotClearedInTheSameBatch) {
    Ledger ledger;
    ledger.start(Cursor{20, false}, true);
    ledger.known_refusals({{"bad\tname.md", 11, "old reason"}});
    ledger.expect({11}, 20);
    ledger.supersede_refusal("bad\tname.md", 11);  // the same record: not newer
    ledger.refuse({"bad\tname.md", 11, "refused: control character"}, {11});
    const Checkpoint batch = ledger.take(true);
    EXPECT_TRUE(batch.cleared_refusals.empty());
    ASSERT_EQ(batch.refusals.size(), 1U);
    EXPECT_EQ(batch.refusals[0].reason, "refused: control character");
    EXPECT_EQ(ledger.refusals().size(), 1U);
}

TEST(Ledger, ANewerRecordOfARefusedPathClearsTheRefusal) {
    Ledger ledger;
    ledger.start(Cursor{20, false}, false);
    ledger.known_refusals({{"name.md", 11, "refused: too long for the destination"}});
    ledger.supersede_refusal("name.md", 11);  // the same record again: proves nothing yet
    EXPECT_EQ(ledger.refusals().size(), 1U);
    ledger.supersede_refusal("name.md", 12);
    ledger.supersede_refusal("other.md", 13);  // never refused: nothing to clear
    const Checkpoint batch = ledger.take(false);
    EXPECT_EQ(batch.cleared_refusals, std::vector<std::string>{"/name.md"});
    EXPECT_TRUE(ledger.refusals().empty());
}

TEST(Ledger, ACompleteRunThatReachesItsEndForgetsRefusalsItNoLongerMet) {
    Ledger ledger;
    ledger.start(Cursor{0, true}, true);
    ledger.known_refusals({{"gone.md", 3, "r"}, {"", 4, "undecryptable"}, {"kept\t.md", 5, "r"}});
    ledger.expect({5, 6}, 6);
    ledger.refuse({"kept\t.md", 5, "r"}, {5});
    EXPECT_TRUE(ledger.take(false).cleared_refusals.empty());  // not at its end yet
    ledger.settle({6});
    const Checkpoint last = ledger.take(true);
    std::vector<std::string> cleared = last.cleared_refusals;
    std::sort(cleared.begin(), cleared.end());
    EXPECT_EQ(cleared, (std::vector<std::string>{"#4", "/gone.md"}));
    ASSERT_EQ(ledger.refusals().size(), 1U);
    EXPECT_EQ(ledger.refusals()[0].path, "kept\t.md");
}

TEST(Ledger, ABatchThatCouldNotBeStoredWaitsAgainAndHoldsTheCursorUntilStored) {
    Ledger ledger;
    ledger.start(Cursor{10, false}, false);
    ledger.expect({11, 12}, 12);
    ledger.upsert(note("a.md", 11));
    ledger.settle({11});
    Checkpoint failed = ledger.take(false);
    ASSERT_TRUE(failed.cursor.has_value());
    EXPECT_EQ(failed.cursor->version, 11);
    ledger.put_back(std::move(failed));  // the store refused it
    ledger.upsert(note("b.md", 12));
    ledger.settle({12});
    const Checkpoint next = ledger.take(false);
    ASSERT_EQ(next.upserts.size(), 2U);  // a.md is not lost
    EXPECT_EQ(next.upserts[0].path, "a.md");
    EXPECT_EQ(next.upserts[1].path, "b.md");
    ASSERT_TRUE(next.cursor.has_value());
    EXPECT_EQ(next.cursor->version, 12);
    EXPECT_EQ(ledger.cursor().version, 10);  // nothing stored yet
}

}  // namespace
}  // namespace obsync::sync
