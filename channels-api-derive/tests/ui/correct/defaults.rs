//! The least a model needs: a table, an `id`, and the derives.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        user_profiles (id) {
            id -> Integer,
            bio -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::user_profiles)]
pub struct UserProfile {
    pub id: i32,
    pub bio: String,
}

fn main() {
    // The resource is the struct's name in snake_case; the methods are the default five.
    assert_eq!(<UserProfile as Consumer>::RESOURCE, "user_profile");
    assert_eq!(
        <UserProfile as Consumer>::METHODS,
        ["create", "retrieve", "update", "list", "delete"]
    );
}
