// A field that lists filter, is nullable and is written, whose Rust type does not match
// its column's SQL type (`Nullable<Integer>`): one error, on the field, not one in every
// query that binds it.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            votes -> Nullable<Integer>,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
#[consumer(filter(votes), ordering(votes))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub votes: Option<String>,
}

fn main() {}
