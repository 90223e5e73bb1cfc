// The primary key is read and sent under one name; serde may not give it two.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        items (id) {
            id -> Integer,
            title -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::items)]
pub struct Item {
    #[serde(rename(serialize = "key", deserialize = "item_id"))]
    #[consumer(read_only)]
    pub id: i32,
    pub title: String,
}

fn main() {}
