// Every error of a model is reported in one compile.
use channels_api::prelude::*;

mod schema {
    diesel::table! {
        questions (id) {
            id -> Integer,
            question_text -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
#[consumer(resorce = "q", methods(list, list), read_only(nope))]
pub struct Question {
    #[consumer(hidden)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
