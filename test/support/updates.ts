/** Factories for Telegram updates as Telegram sends them. */
let nextUpdateId = Math.floor(Math.random() * 1_000_000);
let nextMessageId = 1;

export interface Person {
  id: number;
  first_name: string;
}

export const alice: Person = { id: 1001, first_name: 'Alice' };
export const bob: Person = { id: 1002, first_name: 'Bob' };

export function newUpdateId(): number {
  return nextUpdateId++;
}

function message(from: Person, extra: Record<string, unknown>, chatId = from.id) {
  return {
    message_id: nextMessageId++,
    date: Math.floor(Date.now() / 1000),
    chat: { id: chatId, type: chatId === from.id ? 'private' : 'group', first_name: from.first_name },
    from: { ...from, is_bot: false },
    ...extra,
  };
}

export function textUpdate(from: Person, text: string, options: { chatId?: number; updateId?: number } = {}) {
  const entities = text.startsWith('/')
    ? [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0].length }]
    : undefined;
  return {
    update_id: options.updateId ?? newUpdateId(),
    message: message(from, { text, ...(entities ? { entities } : {}) }, options.chatId),
  };
}

export function stickerUpdate(from: Person) {
  return {
    update_id: newUpdateId(),
    message: message(from, {
      sticker: {
        file_id: 'CAACAgIAAxk',
        file_unique_id: 'AgAD',
        type: 'regular',
        width: 512,
        height: 512,
        is_animated: false,
        is_video: false,
      },
    }),
  };
}

/** A photo, part of the album `mediaGroupId` when given (Telegram sends each part of an album as an update). */
export function photoUpdate(from: Person, options: { mediaGroupId?: string; caption?: string } = {}) {
  return {
    update_id: newUpdateId(),
    message: message(from, {
      photo: [
        { file_id: `AgACAgIAAxk-${nextMessageId}`, file_unique_id: `AQAD-${nextMessageId}`, width: 90, height: 90 },
      ],
      ...(options.mediaGroupId ? { media_group_id: options.mediaGroupId } : {}),
      ...(options.caption ? { caption: options.caption } : {}),
    }),
  };
}

export function editedMessageUpdate(from: Person, text: string) {
  return {
    update_id: newUpdateId(),
    edited_message: { ...message(from, { text }), edit_date: Math.floor(Date.now() / 1000) },
  };
}

export function callbackQueryUpdate(from: Person, data = 'pressed') {
  return {
    update_id: newUpdateId(),
    callback_query: {
      id: `cq-${newUpdateId()}`,
      from: { ...from, is_bot: false },
      chat_instance: '-123456',
      data,
      message: message(from, { text: 'pick one' }),
    },
  };
}

export function channelPostUpdate(text: string) {
  return {
    update_id: newUpdateId(),
    channel_post: {
      message_id: nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: -1001234567890, type: 'channel', title: 'News' },
      text,
    },
  };
}

export function myChatMemberUpdate(from: Person) {
  const date = Math.floor(Date.now() / 1000);
  return {
    update_id: newUpdateId(),
    my_chat_member: {
      chat: { id: from.id, type: 'private', first_name: from.first_name },
      from: { ...from, is_bot: false },
      date,
      old_chat_member: { status: 'member', user: { id: 1, is_bot: true, first_name: 'bot' } },
      new_chat_member: { status: 'kicked', until_date: 0, user: { id: 1, is_bot: true, first_name: 'bot' } },
    },
  };
}

/** A kind of update a future Bot API version might add. */
export function futureKindUpdate() {
  return { update_id: newUpdateId(), quantum_entanglement: { id: 'q1', spin: 'up' } };
}
