// A model that does not derive `Queryable`: its rows cannot be read.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            question_text -> Text,
        }
    }
}

#[derive(Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
