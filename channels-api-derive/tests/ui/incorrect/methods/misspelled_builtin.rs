// A built-in method misspelled in methods(...): no such method, did you mean `retrieve`?
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
#[consumer(methods(create, retreive))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
}

fn main() {}
