/**
 * A typed fetch client for posbridge's PC POS USB API. No runtime dependencies: it needs
 * only `fetch`, `AbortController` and `setTimeout` (every browser, Node 18+, Deno, Bun).
 *
 *     const pos = new PosbridgeClient({ baseUrl: "http://localhost:8080" });
 *     await pos.createPayment({ amount: "12.50", retrieval_reference_number: "invoice-1001",
 *                               condition_code: "82" });
 *     const payment = await pos.waitForFinal("invoice-1001");
 *     if (payment.transaction_status === "00") { ... }   // paid; nothing else means paid
 *
 * Every request and answer type comes from posbridge.d.ts, which openapi-typescript generates
 * from the bridge's openapi.json (`npm run generate`; `npm run check` fails when it is stale).
 *
 * `subscribe()` follows payments and the terminal as they happen (`GET /events`, over the
 * browser's EventSource, which resumes from the last event id by itself):
 *
 *     const sub = pos.subscribe({ ref: "invoice-1001", after: 0, onEvent: (e) => {
 *         if (e.type === "payment" && e.data.status === "approved") { ...; sub.close(); }
 *     } });
 *
 * Every error answer, and every failure to get one, throws `PosbridgeError`. When its
 * `outcomeUnknown` is true (HTTP 504 TERMINAL_TIMEOUT, 500, no answer at all, or our own
 * timeout) the payment may or may not have started: call `waitForFinal` for the same
 * reference, never start a new payment for the same sale.
 */

import type { components, paths } from "./posbridge.js";

type Schemas = components["schemas"];

export type CreatePaymentRequest = Schemas["CreatePaymentRequest"];
export type CreatePaymentResponse = Schemas["CreatePaymentResponse"];
export type CancelPaymentResponse = Schemas["CancelPaymentResponse"];
export type QueryPaymentResponse = Schemas["QueryPaymentResponse"];
export type VoidPaymentResponse = Schemas["VoidPaymentResponse"];
export type SubmitBatchResponse = Schemas["SubmitBatchResponse"];
export type RefundPaymentRequest = Schemas["RefundPaymentRequest"];
export type RefundPaymentResponse = Schemas["RefundPaymentResponse"];
export type ErrorResponse = Schemas["ErrorResponse"];
export type PaymentStatus = QueryPaymentResponse["status"];
export type JournalEventData = Schemas["JournalEventData"];
export type LinkEventData = Schemas["LinkEventData"];
export type OverflowEventData = Schemas["OverflowEventData"];

/** One event of `GET /events`. Journal events (payment, cancel, void, batch, and kinds a
 * later bridge adds, such as refund) carry the journal id; `link` (the terminal link went up
 * or down) and `overflow` (this stream fell behind and is reopened) carry none. */
export type PosbridgeEvent =
    | { type: "link"; id: null; data: LinkEventData }
    | { type: "overflow"; id: null; data: OverflowEventData }
    | { type: "payment" | "cancel" | "void" | "batch" | (string & {}); id: number;
        data: JournalEventData };

/** The event types `subscribe` listens for (EventSource delivers only named types). */
export const EVENT_TYPES: readonly string[] =
    ["payment", "cancel", "void", "batch", "refund", "link", "overflow"];

export interface SubscribeOptions {
    /** Only the journal events of this payment (link events come regardless). */
    ref?: string;
    /** First replay the journal's events after this id (0: all of them). Without it, only
     * what happens from now on. */
    after?: number;
    /** Called with every event, in order. */
    onEvent: (event: PosbridgeEvent) => void;
    /** Called when the stream fails; `closed` is true when EventSource gave up (an HTTP
     * error such as 403 FORBIDDEN_ORIGIN or 503 TOO_MANY_SUBSCRIBERS), false while it
     * reconnects by itself. */
    onError?: (closed: boolean) => void;
    /** Another EventSource, e.g. one that sends the access token header (the browser's
     * EventSource cannot send headers). Default: the global EventSource. */
    eventSource?: (url: string) => EventSource;
}

export interface Subscription {
    /** The journal id of the last event received (where a new subscription would resume). */
    readonly lastEventId: number | null;
    close(): void;
}

/** One of the command paths, with its request and 200 answer as the spec defines them. */
type Command = Exclude<keyof paths, "/events">;
type RequestOf<P extends Command> =
    NonNullable<paths[P]["post"]["requestBody"]>["content"]["application/json"];
type AnswerOf<P extends Command> =
    paths[P]["post"]["responses"][200]["content"]["application/json"];

const API_VERSION: components["parameters"]["ApiVersion"] = "v1";

/** Statuses that never change again (`approved` only by a VoidPayment of the POS's own).
 * `failed` is final too: the payment never reached the terminal and took no money. */
export const FINAL_STATUSES: readonly PaymentStatus[] =
    ["approved", "declined", "cancelled", "timed_out", "voided", "failed"];

export function isFinal(status: PaymentStatus): boolean {
    return FINAL_STATUSES.includes(status);
}

/**
 * posbridge answered with an error, or did not answer. `status` is the HTTP status (0 when
 * there was no HTTP answer); `error_code` is posbridge's stable code (docs/api.md, Errors),
 * or one of the client's own: `NETWORK_ERROR` (no answer: bridge down, or CORS refused),
 * `CLIENT_TIMEOUT` (no answer within `timeoutMs`), `NOT_JSON` (an answer that is not
 * posbridge's JSON). `body` is the whole error answer, with extra fields such as
 * `retrieval_reference_number` of TERMINAL_BUSY.
 */
export class PosbridgeError extends Error {
    readonly success = false as const;
    readonly status: number;
    readonly error_code: string;
    readonly body: ErrorResponse;

    constructor(status: number, body: ErrorResponse, options?: { cause?: unknown }) {
        super(body.message, options);
        this.name = "PosbridgeError";
        this.status = status;
        this.error_code = body.error_code;
        this.body = body;
    }

    /** True when the command may or may not have been carried out: query, do not repeat. */
    get outcomeUnknown(): boolean {
        return this.status === 0 || this.status === 500 || this.status === 504;
    }
}

export interface ClientOptions {
    /** The bridge, default `http://localhost:8080`. */
    baseUrl?: string;
    /** The operator's access token (`posbridge serve --token-file`), sent as a Bearer token. */
    token?: string;
    /** Give up on one request after this long (ms), default 30 000. docs/api.md asks for
     * at least 10 s: the terminal may take 5 s to answer. */
    timeoutMs?: number;
    /** Another fetch, e.g. one with a proxy; default the global fetch. */
    fetch?: typeof fetch;
}

export interface WaitOptions {
    /** Time between two queries (ms), default 500. */
    intervalMs?: number;
    /** Throw a PosbridgeError `WAIT_TIMEOUT` when still not final after this long (ms). The
     * payment is then still pending or unknown; by default wait as long as it takes. */
    timeoutMs?: number;
    /** Called with every QueryPayment answer, e.g. to show "waiting for the customer". */
    onUpdate?: (answer: QueryPaymentResponse) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function clientError(error_code: string, message: string): ErrorResponse {
    return { success: false, message, error_code };
}

export class PosbridgeClient {
    readonly baseUrl: string;
    private readonly headers: Record<string, string>;
    private readonly timeoutMs: number;
    private readonly fetch: typeof fetch;

    constructor(options: ClientOptions = {}) {
        this.baseUrl = (options.baseUrl ?? "http://localhost:8080").replace(/\/+$/, "");
        this.headers = { "Content-Type": "application/json", "x-api-version": API_VERSION };
        if (options.token) this.headers["Authorization"] = `Bearer ${options.token}`;
        this.timeoutMs = options.timeoutMs ?? 30_000;
        // Bound: a browser's fetch called as a method of another object throws "Illegal
        // invocation".
        this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    }

    /** Start a payment. Success means the terminal took it, not that the customer paid. */
    createPayment(body: RequestOf<"/CreatePayment">): Promise<AnswerOf<"/CreatePayment">> {
        return this.post("/CreatePayment", body);
    }

    /** Cancel the payment waiting on the terminal; then keep querying it. */
    cancelPayment(): Promise<AnswerOf<"/CancelPayment">> {
        return this.post("/CancelPayment", {});
    }

    queryPayment(retrieval_reference_number: string): Promise<AnswerOf<"/QueryPayment">> {
        return this.post("/QueryPayment", { retrieval_reference_number });
    }

    /** Void an approved payment that is not in a batch yet. */
    voidPayment(retrieval_reference_number: string): Promise<AnswerOf<"/VoidPayment">> {
        return this.post("/VoidPayment", { retrieval_reference_number });
    }

    /** Settle the day's approved payments. */
    submitBatch(): Promise<AnswerOf<"/SubmitBatch">> {
        return this.post("/SubmitBatch", {});
    }

    /** Refund all or part of an approved payment (posbridge's extension). The same
     * `refund_reference` again answers with the first answer: safe to send again. */
    refundPayment(body: RequestOf<"/RefundPayment">): Promise<AnswerOf<"/RefundPayment">> {
        return this.post("/RefundPayment", body);
    }

    /** Query `reference` until its status is final and return that answer. Decide on
     * `transaction_status`: only "00" is paid. */
    async waitForFinal(reference: string, options: WaitOptions = {}): Promise<QueryPaymentResponse> {
        const interval = options.intervalMs ?? 500;
        const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
        for (;;) {
            const answer = await this.queryPayment(reference);
            options.onUpdate?.(answer);
            if (isFinal(answer.status)) return answer;
            if (Date.now() >= deadline) {
                throw new PosbridgeError(0, clientError("WAIT_TIMEOUT",
                    `payment '${reference}' is still ${answer.status}; keep querying it`));
            }
            await sleep(interval);
        }
    }

    /** Follow `GET /events`. EventSource reconnects by itself after a dropped connection, a
     * bridge restart or an overflow, sending the last id it got: the bridge replays from the
     * journal what came after it, with no gap and no duplicate. */
    subscribe(options: SubscribeOptions): Subscription {
        const query = new URLSearchParams();
        if (options.after !== undefined) query.set("after", String(options.after));
        if (options.ref !== undefined) query.set("ref", options.ref);
        const search = query.toString();
        const url = `${this.baseUrl}/events${search ? "?" + search : ""}`;
        if (this.headers["Authorization"] && !options.eventSource) {
            throw new PosbridgeError(0, clientError("TOKEN_NEEDS_EVENTSOURCE",
                "the browser's EventSource cannot send the access token; pass an " +
                "eventSource that sends the Authorization header"));
        }
        const source = options.eventSource ? options.eventSource(url) : new EventSource(url);
        let lastEventId: number | null = options.after ?? null;
        const deliver = (type: string) => (message: MessageEvent<string>) => {
            const id = type !== "link" && type !== "overflow" && message.lastEventId
                ? Number(message.lastEventId) : null;
            if (type === "stream") {
                lastEventId = Number(message.lastEventId);
                return;
            }
            if (id !== null) lastEventId = id;
            options.onEvent({ type, id, data: JSON.parse(message.data) } as PosbridgeEvent);
        };
        for (const type of [...EVENT_TYPES, "stream"]) {
            source.addEventListener(type, deliver(type) as EventListener);
        }
        source.onerror = () => options.onError?.(source.readyState === EventSource.CLOSED);
        return {
            get lastEventId() { return lastEventId; },
            close: () => source.close(),
        };
    }

    private async post<P extends Command>(path: P, body: RequestOf<P>): Promise<AnswerOf<P>> {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), this.timeoutMs);
        let status: number;
        let text: string;
        try {
            const response = await this.fetch(this.baseUrl + path, {
                method: "POST", headers: this.headers, body: JSON.stringify(body),
                signal: abort.signal,
            });
            status = response.status;
            text = await response.text();
        } catch (cause) {
            const timedOut = abort.signal.aborted;
            throw new PosbridgeError(0, timedOut
                ? clientError("CLIENT_TIMEOUT", `no answer from ${this.baseUrl}${path} within ${this.timeoutMs} ms`)
                : clientError("NETWORK_ERROR", `no answer from ${this.baseUrl}${path}: ${String(cause)}`),
                { cause });
        } finally {
            clearTimeout(timer);
        }
        let answer: unknown;
        try {
            answer = JSON.parse(text);
        } catch {
            answer = undefined;
        }
        if (!isObject(answer)) {
            throw new PosbridgeError(status, clientError("NOT_JSON",
                `HTTP ${status} from ${path} is not a JSON object: ${text.slice(0, 200)}`));
        }
        if (status !== 200 || answer.success !== true) {
            throw new PosbridgeError(status, {
                ...answer, success: false,
                message: typeof answer.message === "string" ? answer.message : `HTTP ${status}`,
                error_code: typeof answer.error_code === "string" ? answer.error_code : "UNKNOWN",
            });
        }
        return answer as AnswerOf<P>;
    }
}
