// A consumer method without the context.
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
#[consumer(methods(list, invite))]
pub struct Question {
    #[consumer(read_only)]
    pub id: i32,
    pub question_text: String,
}

impl Question {
    #[consumer_method]
    async fn invite() -> Result<(), ApiError> {
        Ok(())
    }
}

fn main() {}
