//! The tasks domain: types that can only hold valid values. A `TaskTitle` that exists is a
//! valid title (parse, don't validate), so the store and the routes never check one again.

mod task;
mod text;
mod user;

pub use self::task::{NewTask, Task, TaskChanges, TaskPage};
pub use self::text::{InvalidText, TaskDescription, TaskTitle};
pub use self::user::UserId;
