// A page size of zero, and a maximum below the default.
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
#[consumer(page_size = 0, max_page_size = 10, formatter = BareFormatter)]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

fn main() {}
