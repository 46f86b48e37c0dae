/**
 * One full payment, as a browser POS makes it: copy this file and client.ts (and
 * posbridge.d.ts) into your project.
 *
 *     import { PosbridgeClient } from "./client.js";
 *     import { pay } from "./example.js";
 *
 *     const pos = new PosbridgeClient({ baseUrl: "http://localhost:8080" });
 *     const result = await pay(pos, "12.50", "invoice-1001");
 *     if (result.paid) { ... }   // print the receipt
 *
 * A web page may use the bridge only when the operator allows its origin:
 * `posbridge serve --allow-origin https://your-pos-origin` (see README.md).
 */

import { type PosbridgeClient, PosbridgeError, type QueryPaymentResponse } from "./client.js";

export interface PaymentResult {
    /** true only when the terminal answered transaction_status "00". */
    paid: boolean;
    /** The payment's final status (approved, declined, cancelled, ...), or the error_code
     * of a payment that was never started (TERMINAL_BUSY, TERMINAL_NOT_CONNECTED, ...). */
    status: string;
    reference: string;
    /** The final QueryPayment answer, when the payment was started. */
    payment?: QueryPaymentResponse;
}

/**
 * Create a payment of `amount` (a decimal string such as "12.50") and wait for its outcome.
 *
 * `reference` identifies this sale attempt: store it with the sale *before* calling, so that
 * after a crash of the POS you can still ask about it (`pos.waitForFinal(reference)`).
 * Calling again with the same reference and amount never charges twice: it reports the
 * same payment. After a decline or cancel, a new attempt needs a new reference.
 */
export async function pay(pos: PosbridgeClient, amount: string, reference: string,
                          log: (line: string) => void = console.log): Promise<PaymentResult> {
    try {
        const created = await pos.createPayment(
            { amount, retrieval_reference_number: reference, condition_code: "82" });
        log(`${reference}: ${created.status}${created.replayed ? " (sent before)" : ""}`);
    } catch (error) {
        if (!(error instanceof PosbridgeError)) throw error;
        if (!error.outcomeUnknown) {
            // Nothing was started: TERMINAL_BUSY (another payment holds the terminal),
            // TERMINAL_NOT_CONNECTED (check the cable), INVALID_AMOUNT, REFERENCE_CONFLICT...
            log(`${reference}: not started: ${error.status} ${error.error_code}: ${error.message}`);
            return { paid: false, status: error.error_code, reference };
        }
        // 504 TERMINAL_TIMEOUT, or no answer: the payment may be on the terminal and the
        // customer may pay it. Ask about the same reference; never start a new payment.
        log(`${reference}: ${error.error_code}, outcome unknown; asking the bridge`);
    }
    let payment: QueryPaymentResponse;
    try {
        payment = await pos.waitForFinal(reference, {
            intervalMs: 500,
            onUpdate: (answer) => log(`${reference}: ${answer.status}`),
        });
    } catch (error) {
        if (error instanceof PosbridgeError && error.error_code === "PAYMENT_NOT_FOUND") {
            // The bridge never recorded it: nothing was charged, the same call may be retried.
            return { paid: false, status: "not_started", reference };
        }
        throw error;
    }
    // Only "00" is paid: declined, cancelled, timed out, voided and failed are not.
    const paid = payment.transaction_status === "00";
    log(`${reference}: ${paid ? "PAID" : "NOT PAID"} (${payment.status}, ` +
        `transaction_status ${payment.transaction_status}, transaction_id ${payment.transaction_id})`);
    return { paid, status: payment.status, reference, payment };
}
