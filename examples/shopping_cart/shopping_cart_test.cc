// The shopping cart's rules, tested without a store: given these past events, when this command,
// then exactly these new events (or this rejection). See sluice/testing/given_when_then.h.

#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "examples/shopping_cart/cart.h"
#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/testing/given_when_then.h"

namespace shop {
namespace {

using sluice::testing::Given;

TEST(CartTest, AddingAnItemToANewCartRecordsIt) {
  EXPECT_TRUE(Given<Cart>()
                  .When(AddItem{"c1", "apple", 3, 45}, DecideAddItem)
                  .Then({ItemAdded{"apple", 3, 45}}));
}

TEST(CartTest, AddingZeroOrNegativeQuantitiesIsRejected) {
  EXPECT_TRUE(Given<Cart>()
                  .When(AddItem{"c1", "apple", 0, 45}, DecideAddItem)
                  .ThenRejected("quantity must be positive"));
  EXPECT_TRUE(Given<Cart>()
                  .When(AddItem{"c1", "apple", -2, 45}, DecideAddItem)
                  .ThenRejected("quantity must be positive"));
}

TEST(CartTest, AddingTheSameItemTwiceAddsUpTheQuantity) {
  auto scenario = Given<Cart>({ItemAdded{"apple", 3, 45}});
  ASSERT_TRUE(scenario.When(AddItem{"c1", "apple", 2, 45}, DecideAddItem)
                  .Then({ItemAdded{"apple", 2, 45}}));
  EXPECT_EQ(scenario.StateAfter().lines.at("apple").quantity, 5);
}

TEST(CartTest, RemovingAnItemInTheCartRecordsIt) {
  EXPECT_TRUE(Given<Cart>({ItemAdded{"apple", 3, 45}, ItemAdded{"bread", 1, 220}})
                  .When(RemoveItem{"c1", "apple"}, DecideRemoveItem)
                  .Then({ItemRemoved{"apple"}}));
}

TEST(CartTest, RemovingAnItemNotInTheCartIsRejected) {
  EXPECT_TRUE(Given<Cart>({ItemAdded{"apple", 3, 45}, ItemRemoved{"apple"}})
                  .When(RemoveItem{"c1", "apple"}, DecideRemoveItem)
                  .ThenRejected("no apple in the cart"));
}

TEST(CartTest, CheckingOutRecordsTheItemCountAndTotal) {
  EXPECT_TRUE(Given<Cart>({ItemAdded{"apple", 3, 45}, ItemAdded{"bread", 1, 220},
                           ItemAdded{"cheese", 1, 590}, ItemRemoved{"cheese"}})
                  .When(CheckOut{"c1"}, DecideCheckOut)
                  .Then({CartCheckedOut{/*item_count=*/4, /*total_cents=*/3 * 45 + 220}}));
}

TEST(CartTest, CheckingOutAnEmptyCartIsRejected) {
  EXPECT_TRUE(Given<Cart>().When(CheckOut{"c1"}, DecideCheckOut).ThenRejected("cart is empty"));
  EXPECT_TRUE(Given<Cart>({ItemAdded{"apple", 1, 45}, ItemRemoved{"apple"}})
                  .When(CheckOut{"c1"}, DecideCheckOut)
                  .ThenRejected("cart is empty"));
}

TEST(CartTest, NothingChangesACheckedOutCart) {
  const std::vector<Cart::Event> ordered = {ItemAdded{"apple", 1, 45}, CartCheckedOut{1, 45}};
  EXPECT_TRUE(Given<Cart>(ordered)
                  .When(AddItem{"c1", "bread", 1, 220}, DecideAddItem)
                  .ThenRejected("cart is checked out"));
  EXPECT_TRUE(Given<Cart>(ordered)
                  .When(RemoveItem{"c1", "apple"}, DecideRemoveItem)
                  .ThenRejected("cart is checked out"));
  EXPECT_TRUE(Given<Cart>(ordered)
                  .When(CheckOut{"c1"}, DecideCheckOut)
                  .ThenRejected("cart is checked out"));
}

// The example stores events in the default binary encoding: each type must survive the trip.
TEST(CartTest, EveryEventRoundTripsThroughTheRegistry) {
  sluice::EventTypeRegistry registry;
  ASSERT_TRUE(RegisterEvents(registry).ok());
  const std::vector<Cart::Event> events = {ItemAdded{"apple", 3, 45}, ItemRemoved{"apple"},
                                           CartCheckedOut{3, 135}};
  for (const Cart::Event& event : events) {
    sluice::Result<sluice::EventData> data =
        std::visit([&](const auto& e) { return registry.Encode(e); }, event);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    sluice::RecordedEvent recorded;
    recorded.type = data->type;
    recorded.content_type = data->content_type;
    recorded.payload = data->payload;
    sluice::Result<Cart::Event> back = registry.DecodeVariant<Cart::Event>(recorded);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, event) << data->type;
  }
}

}  // namespace
}  // namespace shop
